//! Test helpers: building values, items and parser inputs tersely.

use std::collections::BTreeMap;

use super::{Condition, ExprInput, ExprKind, KeyCondition, Parser, Path, UpdateExpr};
use crate::error::ModelError;
use crate::number::Number;
use crate::value::{AttributeValue, Item};

pub fn s(x: &str) -> AttributeValue {
    AttributeValue::S(x.to_owned())
}

pub fn n(x: &str) -> AttributeValue {
    AttributeValue::N(Number::parse(x).unwrap())
}

pub fn b(x: &[u8]) -> AttributeValue {
    AttributeValue::B(x.to_vec())
}

pub fn l(xs: Vec<AttributeValue>) -> AttributeValue {
    AttributeValue::L(xs)
}

pub fn m(pairs: Vec<(&str, AttributeValue)>) -> AttributeValue {
    AttributeValue::M(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

pub fn ss(xs: &[&str]) -> AttributeValue {
    AttributeValue::Ss(xs.iter().map(|x| (*x).to_owned()).collect())
}

pub fn ns(xs: &[&str]) -> AttributeValue {
    AttributeValue::Ns(xs.iter().map(|x| Number::parse(x).unwrap()).collect())
}

pub fn item(pairs: Vec<(&str, AttributeValue)>) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Names and values for one request.
#[derive(Default)]
pub struct Input {
    pub names: Option<BTreeMap<String, String>>,
    pub values: Option<BTreeMap<String, AttributeValue>>,
}

impl Input {
    pub fn values(pairs: Vec<(&str, AttributeValue)>) -> Input {
        Input {
            names: None,
            values: Some(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
        }
    }

    pub fn names(mut self, pairs: &[(&str, &str)]) -> Input {
        self.names = Some(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        self
    }

    pub fn parser(&self) -> Parser<'_> {
        Parser::new(ExprInput {
            names: self.names.as_ref(),
            values: self.values.as_ref(),
        })
    }

    pub fn cond(&self, text: &str) -> Result<Condition, String> {
        let mut p = self.parser();
        p.condition(text, ExprKind::Condition).map_err(msg)
    }

    pub fn update(&self, text: &str) -> Result<UpdateExpr, String> {
        self.parser().update(text).map_err(msg)
    }

    pub fn projection(&self, text: &str) -> Result<Vec<Path>, String> {
        self.parser().projection(text).map_err(msg)
    }

    pub fn key(&self, text: &str) -> Result<KeyCondition, String> {
        self.parser().key_condition(text).map_err(msg)
    }
}

pub fn msg(e: ModelError) -> String {
    e.to_string()
}

/// Runs `f` on a thread with a small stack (768 KB, under a tokio worker's 2 MB): the
/// deepest trees the limits allow must fit.
pub fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(768 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}
