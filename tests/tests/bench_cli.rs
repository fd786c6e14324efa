//! `rotor bench` end to end: a one-second `--ceiling` run must report nonzero throughput
//! and no errors, in its table and in its `--json` file; bad endpoints fail clearly.

use std::process::Command;

use rotor_tests::rotor_bin;

#[test]
fn ceiling_run_reports_throughput_and_no_errors() {
    let json =
        std::env::temp_dir().join(format!("rotor-bench-ceiling-{}.json", std::process::id()));
    let out = Command::new(rotor_bin())
        .args([
            "bench",
            "--ceiling",
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--json",
        ])
        .arg(&json)
        .output()
        .expect("run rotor bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");

    // The table: a header, a get row, no errors.
    assert!(stdout.contains("p99.9 us"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("get ")), "{stdout}");
    assert!(stdout.contains("errors: none"), "{stdout}");
    // The progress line on stderr.
    assert!(stderr.contains("ops/s"), "{stderr}");

    let text = std::fs::read_to_string(&json).expect("the --json file");
    let _ = std::fs::remove_file(&json);
    let report: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let total = &report["total"];
    assert!(total["ops_per_sec"].as_f64().unwrap() > 0.0, "{text}");
    assert!(total["count"].as_u64().unwrap() > 0, "{text}");
    assert_eq!(total["errors"], 0, "{text}");
    assert_eq!(report["errors"].as_array().unwrap().len(), 0, "{text}");
    assert_eq!(report["ops"][0]["op"], "get", "{text}");
    let lat = &report["ops"][0]["latency_us"];
    let p50 = lat["p50"].as_u64().unwrap();
    assert!(p50 >= 1 && p50 <= lat["max"].as_u64().unwrap(), "{text}");
    let secs = report["duration_secs"].as_f64().unwrap();
    assert!((0.9..5.0).contains(&secs), "{text}");
}

#[test]
fn https_and_refused_endpoints_fail_with_a_clear_message() {
    let run = |endpoint: &str| {
        let out = Command::new(rotor_bin())
            .args(["bench", "--endpoint", endpoint, "--duration", "1"])
            .output()
            .expect("run rotor bench");
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = run("https://127.0.0.1:8000");
    assert!(e.contains("https endpoints are not supported"), "{e}");

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let e = run(&url);
    assert!(
        e.contains(&format!("is the server running at {url}?")),
        "{e}"
    );
}
