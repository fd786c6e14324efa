//! The AWS SDK for Rust against a real `rotor dev`: tables, items, expressions, errors.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue as AV, BillingMode, ReturnConsumedCapacity, ReturnValue,
};
use rotor_tests::{create_table, create_table_request, Rotor};

fn s(v: &str) -> AV {
    AV::S(v.to_owned())
}

fn n(v: &str) -> AV {
    AV::N(v.to_owned())
}

#[tokio::test]
async fn tables_lifecycle() {
    let rotor = Rotor::start();
    let client = rotor.client();
    create_table(&client, "alpha", false).await;
    create_table(&client, "beta", true).await;
    let err = create_table_request(&client, "alpha", false)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceInUseException"));

    let desc = client
        .describe_table()
        .table_name("beta")
        .send()
        .await
        .unwrap();
    let t = desc.table.unwrap();
    assert_eq!(t.table_name(), Some("beta"));
    assert_eq!(t.key_schema().len(), 2);
    assert_eq!(t.item_count(), Some(0));
    assert_eq!(
        t.billing_mode_summary().unwrap().billing_mode(),
        Some(&BillingMode::PayPerRequest)
    );
    assert!(t.table_arn().unwrap().ends_with("table/beta"));

    let page = client.list_tables().limit(1).send().await.unwrap();
    assert_eq!(page.table_names(), ["alpha"]);
    assert_eq!(page.last_evaluated_table_name(), Some("alpha"));
    let page = client
        .list_tables()
        .exclusive_start_table_name("alpha")
        .send()
        .await
        .unwrap();
    assert_eq!(page.table_names(), ["beta"]);
    assert_eq!(page.last_evaluated_table_name(), None);

    client
        .delete_table()
        .table_name("alpha")
        .send()
        .await
        .unwrap();
    let err = client
        .describe_table()
        .table_name("alpha")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn put_get_update_delete() {
    let rotor = Rotor::start();
    let client = rotor.client();
    create_table(&client, "items", false).await;

    client
        .put_item()
        .table_name("items")
        .item("pk", s("a"))
        .item("price", n("1.50"))
        .item("tags", AV::Ss(vec!["x".into(), "y".into()]))
        .send()
        .await
        .unwrap();
    let got = client
        .get_item()
        .table_name("items")
        .key("pk", s("a"))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let item = got.item.unwrap();
    assert_eq!(
        item["price"],
        n("1.5"),
        "numbers come back in canonical form"
    );

    // A conditional put on an existing item fails and, when asked, returns the item.
    let err = client
        .put_item()
        .table_name("items")
        .item("pk", s("a"))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(
            aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ConditionalCheckFailedException"));

    let out = client
        .update_item()
        .table_name("items")
        .key("pk", s("a"))
        .update_expression(
            "SET price = price + :d, #c = if_not_exists(#c, :zero) ADD tags :t REMOVE gone",
        )
        .expression_attribute_names("#c", "count")
        .expression_attribute_values(":d", n("0.25"))
        .expression_attribute_values(":zero", n("0"))
        .expression_attribute_values(":t", AV::Ss(vec!["z".into()]))
        .return_values(ReturnValue::AllNew)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes.unwrap();
    assert_eq!(attrs["price"], n("1.75"));
    assert_eq!(attrs["count"], n("0"));
    let mut tags = attrs["tags"].as_ss().unwrap().clone();
    tags.sort();
    assert_eq!(tags, ["x", "y", "z"]);
    assert_eq!(out.consumed_capacity.unwrap().capacity_units(), Some(1.0));

    let err = client
        .update_item()
        .table_name("items")
        .key("pk", s("a"))
        .update_expression("SET pk = :v")
        .expression_attribute_values(":v", s("b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));
    assert!(
        err.message().unwrap().contains("part of the key"),
        "{err:?}"
    );

    let out = client
        .delete_item()
        .table_name("items")
        .key("pk", s("a"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(out.attributes.unwrap()["price"], n("1.75"));
    let got = client
        .get_item()
        .table_name("items")
        .key("pk", s("a"))
        .send()
        .await
        .unwrap();
    assert!(got.item.is_none());
}

#[tokio::test]
async fn query_pages_across_the_megabyte_limit() {
    let rotor = Rotor::start();
    let client = rotor.client();
    create_table(&client, "pages", true).await;
    let blob = "x".repeat(100 * 1024);
    for i in 0..25 {
        client
            .put_item()
            .table_name("pages")
            .item("pk", s("p"))
            .item("sk", n(&i.to_string()))
            .item("blob", s(&blob))
            .send()
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut start = None;
    let mut pages = 0;
    loop {
        let out = client
            .query()
            .table_name("pages")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("p"))
            .set_exclusive_start_key(start.take())
            .projection_expression("sk")
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(
            out.count() <= 11,
            "a page holds at most ~1 MB of items, got {}",
            out.count()
        );
        for item in out.items() {
            seen.push(item["sk"].as_n().unwrap().parse::<i32>().unwrap());
        }
        match out.last_evaluated_key {
            Some(k) => start = Some(k),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert!(pages >= 3);
    assert_eq!(
        seen,
        (0..25).collect::<Vec<_>>(),
        "every item once, in sort-key order"
    );

    let out = client
        .query()
        .table_name("pages")
        .key_condition_expression("pk = :p AND sk BETWEEN :a AND :b")
        .expression_attribute_values(":p", s("p"))
        .expression_attribute_values(":a", n("3"))
        .expression_attribute_values(":b", n("5"))
        .scan_index_forward(false)
        .projection_expression("sk")
        .send()
        .await
        .unwrap();
    let sks: Vec<&str> = out
        .items()
        .iter()
        .map(|i| i["sk"].as_n().unwrap().as_str())
        .collect();
    assert_eq!(sks, ["5", "4", "3"]);
}

#[tokio::test]
async fn scan_segments_and_batches() {
    let rotor = Rotor::start();
    let client = rotor.client();
    create_table(&client, "many", false).await;
    for chunk in 0..4 {
        let mut req = client.batch_write_item();
        let writes: Vec<_> = (0..25)
            .map(|i| {
                let put = aws_sdk_dynamodb::types::PutRequest::builder()
                    .item("pk", s(&format!("k{}", chunk * 25 + i)))
                    .item("v", n(&i.to_string()))
                    .build()
                    .unwrap();
                aws_sdk_dynamodb::types::WriteRequest::builder()
                    .put_request(put)
                    .build()
            })
            .collect();
        req = req.request_items("many", writes);
        let out = req.send().await.unwrap();
        assert!(out.unprocessed_items.unwrap_or_default().is_empty());
    }
    let mut all = Vec::new();
    for segment in 0..3 {
        let mut start = None;
        loop {
            let out = client
                .scan()
                .table_name("many")
                .segment(segment)
                .total_segments(3)
                .limit(7)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .unwrap();
            all.extend(out.items().iter().map(|i| i["pk"].as_s().unwrap().clone()));
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
    }
    all.sort();
    let mut expected: Vec<String> = (0..100).map(|i| format!("k{i}")).collect();
    expected.sort();
    assert_eq!(all, expected, "segments cover every item exactly once");

    let keys: Vec<_> = (0..100)
        .map(|i| std::collections::HashMap::from([("pk".to_owned(), s(&format!("k{i}")))]))
        .collect();
    let ka = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
        .set_keys(Some(keys.clone()))
        .build()
        .unwrap();
    let out = client
        .batch_get_item()
        .request_items("many", ka)
        .send()
        .await
        .unwrap();
    assert_eq!(out.responses.unwrap()["many"].len(), 100);

    let mut too_many = keys;
    too_many.push(std::collections::HashMap::from([(
        "pk".to_owned(),
        s("k100"),
    )]));
    let ka = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
        .set_keys(Some(too_many))
        .build()
        .unwrap();
    let err = client
        .batch_get_item()
        .request_items("many", ka)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ValidationException"));

    let count = client
        .scan()
        .table_name("many")
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(count.count(), 100);
    assert!(count.items.is_none());
}

#[tokio::test]
async fn acknowledged_writes_survive_kill9() {
    let rotor = Rotor::start();
    let client = rotor.client();
    create_table(&client, "durable", false).await;
    for i in 0..50 {
        client
            .put_item()
            .table_name("durable")
            .item("pk", s(&format!("k{i}")))
            .item("i", n(&i.to_string()))
            .send()
            .await
            .unwrap();
    }
    let rotor = rotor.restart_after_kill9();
    let client = rotor.client();
    let t = client
        .describe_table()
        .table_name("durable")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    assert_eq!(t.item_count(), Some(50));
    for i in 0..50 {
        let got = client
            .get_item()
            .table_name("durable")
            .key("pk", s(&format!("k{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(got.item.unwrap()["i"], n(&i.to_string()), "item {i} lost");
    }
}
