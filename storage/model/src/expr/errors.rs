//! Validation errors and their precedence. DynamoDB reports one error per expression,
//! and when several are present it picks by category, not by position; this collects
//! the first error of each category and returns the winner.

/// Kinds of validation error, named after what they report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cat {
    Parens,
    UnknownFunction,
    Misused,
    Reserved,
    Section,
    AttrName,
    AttrVal,
    Overlap,
    Conflict,
    Operand,
    Distinct,
    Function,
}

/// Which expression grammar the errors belong to; each ranks categories differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Condition,
    Update,
    Projection,
}

const SLOTS: usize = 10;
const LEAF_SLOTS: usize = 4;
/// In conditions, the slot that receives the first failing comparison's error.
const LEAF_RESULT: usize = 4;

impl Mode {
    /// The category's rank (lower wins) and whether it is ranked within one comparison
    /// (conditions report the first comparison that has any of those errors).
    fn rank(self, cat: Cat) -> (usize, bool) {
        use Cat::*;
        match self {
            Mode::Condition => match cat {
                Parens => (0, false),
                UnknownFunction => (1, false),
                Misused => (2, false),
                Reserved => (3, false),
                AttrName | AttrVal => (0, true),
                Operand => (1, true),
                Distinct => (2, true),
                _ => (3, true),
            },
            Mode::Update => match cat {
                Parens => (0, false),
                Reserved => (1, false),
                UnknownFunction => (2, false),
                Section => (3, false),
                AttrName => (4, false),
                AttrVal => (5, false),
                Overlap => (6, false),
                Conflict => (7, false),
                Operand => (8, false),
                _ => (9, false),
            },
            Mode::Projection => match cat {
                Reserved => (0, false),
                AttrName | AttrVal => (1, false),
                Overlap => (2, false),
                Conflict => (3, false),
                _ => (4, false),
            },
        }
    }
}

/// The first error seen in each category.
#[derive(Debug)]
pub(crate) struct Errors {
    mode: Mode,
    slots: [Option<String>; SLOTS],
    leaf: [Option<String>; LEAF_SLOTS],
}

impl Errors {
    pub fn new(mode: Mode) -> Self {
        Errors {
            mode,
            slots: Default::default(),
            leaf: Default::default(),
        }
    }

    /// Records `msg` unless this category already has an error.
    pub fn set(&mut self, cat: Cat, msg: impl Into<String>) {
        let (rank, in_leaf) = self.mode.rank(cat);
        let slot = if in_leaf {
            &mut self.leaf[rank]
        } else {
            &mut self.slots[rank]
        };
        if slot.is_none() {
            *slot = Some(msg.into());
        }
    }

    /// Ends one comparison / function of a condition.
    pub fn end_leaf(&mut self) {
        let first = self.leaf.iter_mut().find_map(Option::take);
        self.leaf = Default::default();
        if let Some(msg) = first {
            if self.slots[LEAF_RESULT].is_none() {
                self.slots[LEAF_RESULT] = Some(msg);
            }
        }
    }

    /// The winning error, if any.
    pub fn into_result(mut self) -> Result<(), String> {
        self.end_leaf();
        match self.slots.into_iter().flatten().next() {
            Some(msg) => Err(msg),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_by_category_then_first_seen() {
        let mut e = Errors::new(Mode::Update);
        e.set(Cat::Function, "f1");
        e.set(Cat::AttrVal, "v1");
        e.set(Cat::AttrVal, "v2");
        assert_eq!(e.into_result(), Err("v1".to_owned()));
    }

    #[test]
    fn conditions_report_the_first_failing_leaf() {
        let mut e = Errors::new(Mode::Condition);
        e.set(Cat::Function, "leaf one");
        e.end_leaf();
        e.set(Cat::AttrVal, "leaf two");
        e.end_leaf();
        assert_eq!(e.into_result(), Err("leaf one".to_owned()));
        let mut e = Errors::new(Mode::Condition);
        e.set(Cat::Function, "leaf");
        e.set(Cat::Reserved, "reserved");
        assert_eq!(e.into_result(), Err("reserved".to_owned()));
    }
}
