//! Write commands and their outcomes on the wire. Conditions and updates travel as
//! DynamoDB expression text (rendered from the tree, parsed back trusted).

use rotor_model::expr::{
    condition_from_text, render_condition, render_update, update_from_text, Condition,
    ExpressionText, UpdateExpr,
};
use rotor_model::write::{WriteCommand, WriteOutcome, WriteRequest};

use super::value::{item_from_wire, item_to_wire};
use super::{required, WireError};
use crate::v1 as pb;
use pb::{write_command::Op, write_outcome::Result as Outcome};

fn condition_to_wire(c: &Condition) -> pb::Expression {
    pb::Expression::from(&render_condition(c))
}

fn update_to_wire(u: &UpdateExpr) -> pb::Expression {
    pb::Expression::from(&render_update(u))
}

fn condition_from_wire(
    e: Option<pb::Expression>,
    field: &'static str,
) -> Result<Option<Condition>, WireError> {
    e.map(|e| {
        let text = ExpressionText::try_from(e)?;
        condition_from_text(&text).map_err(|err| WireError::invalid(field, err.to_string()))
    })
    .transpose()
}

fn update_from_wire(
    e: Option<pb::Expression>,
    field: &'static str,
) -> Result<Option<UpdateExpr>, WireError> {
    e.map(|e| {
        let text = ExpressionText::try_from(e)?;
        update_from_text(&text).map_err(|err| WireError::invalid(field, err.to_string()))
    })
    .transpose()
}

impl From<&WriteRequest> for pb::WriteCommand {
    fn from(w: &WriteRequest) -> Self {
        let op = match &w.command {
            WriteCommand::Put { item, condition } => Op::Put(pb::PutOp {
                item: Some(item_to_wire(item)),
                condition: condition.as_ref().map(condition_to_wire),
            }),
            WriteCommand::Update {
                key,
                update,
                condition,
            } => Op::Update(pb::UpdateOp {
                key: Some(item_to_wire(key)),
                update: update.as_ref().map(update_to_wire),
                condition: condition.as_ref().map(condition_to_wire),
            }),
            WriteCommand::Delete { key, condition } => Op::Delete(pb::DeleteOp {
                key: Some(item_to_wire(key)),
                condition: condition.as_ref().map(condition_to_wire),
            }),
        };
        pb::WriteCommand {
            table_id: w.table_id,
            item_key: w.item_key.clone(),
            op: Some(op),
        }
    }
}

impl TryFrom<pb::WriteCommand> for WriteRequest {
    type Error = WireError;

    fn try_from(w: pb::WriteCommand) -> Result<Self, WireError> {
        let command = match required(w.op, "WriteCommand.op")? {
            Op::Put(put) => WriteCommand::Put {
                item: item_from_wire(required(put.item, "PutOp.item")?)?,
                condition: condition_from_wire(put.condition, "PutOp.condition")?,
            },
            Op::Update(update) => WriteCommand::Update {
                key: item_from_wire(required(update.key, "UpdateOp.key")?)?,
                update: update_from_wire(update.update, "UpdateOp.update")?,
                condition: condition_from_wire(update.condition, "UpdateOp.condition")?,
            },
            Op::Delete(delete) => WriteCommand::Delete {
                key: item_from_wire(required(delete.key, "DeleteOp.key")?)?,
                condition: condition_from_wire(delete.condition, "DeleteOp.condition")?,
            },
        };
        Ok(WriteRequest {
            table_id: w.table_id,
            item_key: w.item_key,
            command,
        })
    }
}

impl From<&WriteOutcome> for pb::WriteOutcome {
    fn from(o: &WriteOutcome) -> Self {
        let result = match o {
            WriteOutcome::Applied { old, new } => Outcome::Applied(pb::AppliedWrite {
                old: old.as_ref().map(item_to_wire),
                new: new.as_ref().map(item_to_wire),
            }),
            WriteOutcome::ConditionFailed { old } => {
                Outcome::ConditionFailed(pb::FailedCondition {
                    old: old.as_ref().map(item_to_wire),
                })
            }
        };
        pb::WriteOutcome {
            result: Some(result),
        }
    }
}

impl TryFrom<pb::WriteOutcome> for WriteOutcome {
    type Error = WireError;

    fn try_from(o: pb::WriteOutcome) -> Result<Self, WireError> {
        Ok(match required(o.result, "WriteOutcome.result")? {
            Outcome::Applied(a) => WriteOutcome::Applied {
                old: a.old.map(item_from_wire).transpose()?,
                new: a.new.map(item_from_wire).transpose()?,
            },
            Outcome::ConditionFailed(f) => WriteOutcome::ConditionFailed {
                old: f.old.map(item_from_wire).transpose()?,
            },
        })
    }
}
