//! Logical write commands and their deterministic application to one item.
//!
//! A command carries everything needed to decide its outcome from the current item alone
//! (condition and update already parsed and resolved), so every replica that applies the
//! same command to the same item reaches the same item and the same verdict.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::expr::{Condition, UpdateExpr};
use crate::table::MAX_ITEM_BYTES;
use crate::value::{check_item_nesting, item_size, Item};

/// One logical write, as a partition's log entry: which item (its storage key) and what
/// to do with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriteRequest {
    pub table_id: u32,
    pub item_key: Vec<u8>,
    pub command: WriteCommand,
}

/// One write to one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WriteCommand {
    /// Replace the whole item (PutItem, BatchWriteItem put).
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    /// Create or modify the item whose key attributes are `key` (UpdateItem).
    Update {
        key: Item,
        update: Option<UpdateExpr>,
        condition: Option<Condition>,
    },
    /// Remove the item (DeleteItem, BatchWriteItem delete).
    Delete {
        key: Item,
        condition: Option<Condition>,
    },
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WriteOutcome {
    /// The write happened: the item before and after (None = absent).
    Applied {
        old: Option<Item>,
        new: Option<Item>,
    },
    /// The condition was false; nothing changed. `old` is the current item.
    ConditionFailed { old: Option<Item> },
}

impl WriteCommand {
    pub fn condition(&self) -> Option<&Condition> {
        match self {
            WriteCommand::Put { condition, .. }
            | WriteCommand::Update { condition, .. }
            | WriteCommand::Delete { condition, .. } => condition.as_ref(),
        }
    }

    /// Applies the command to the current item. Errors are client errors found only at
    /// apply time (an update on a missing attribute, an item grown past 400 KB); they
    /// leave the item unchanged.
    pub fn apply(&self, current: Option<Item>) -> Result<WriteOutcome> {
        if let Some(cond) = self.condition() {
            let holds = match &current {
                Some(item) => cond.evaluate(item),
                None => cond.evaluate(&Item::new()),
            };
            if !holds {
                return Ok(WriteOutcome::ConditionFailed { old: current });
            }
        }
        let new = match self {
            WriteCommand::Put { item, .. } => Some(item.clone()),
            WriteCommand::Delete { .. } => None,
            WriteCommand::Update { key, update, .. } => {
                let mut item = current.clone().unwrap_or_else(|| key.clone());
                if let Some(update) = update {
                    update.apply(&mut item)?;
                }
                if item_size(&item) > MAX_ITEM_BYTES {
                    return Err(ModelError::validation(
                        "Item size to update has exceeded the maximum allowed size",
                    ));
                }
                check_item_nesting(&item)?;
                Some(item)
            }
        };
        Ok(WriteOutcome::Applied { old: current, new })
    }
}
