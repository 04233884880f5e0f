//! Which dataset columns a job reads: the one rule that compilation, the
//! gateway's checks and the policy facts all use.

use thiserror::Error;

/// Why a job's columns cannot be resolved.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ColumnError {
    /// The dataset has no such column.
    #[error("the dataset has no column `{0}`")]
    Unknown(String),
    /// The label column is also named as a model input.
    #[error("the label column `{0}` cannot also feed the model")]
    LabelAsInput(String),
}

/// A job's columns, as indices into the dataset's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    /// Columns feeding the model, in its input order.
    pub inputs: Vec<usize>,
    /// The label column, if the aggregate reads one.
    pub label: Option<usize>,
}

impl Columns {
    /// Resolves the columns of a job over a dataset with columns `names`:
    /// `inputs` as named, or by default every column but the label, in file
    /// order.
    pub fn resolve(
        names: &[String],
        inputs: Option<&[String]>,
        label: Option<&str>,
    ) -> Result<Columns, ColumnError> {
        let find = |c: &str| {
            names
                .iter()
                .position(|n| n == c)
                .ok_or_else(|| ColumnError::Unknown(c.to_string()))
        };
        let label = label.map(find).transpose()?;
        let inputs: Vec<usize> = match inputs {
            Some(cols) => cols.iter().map(|c| find(c)).collect::<Result<_, _>>()?,
            None => (0..names.len()).filter(|j| Some(*j) != label).collect(),
        };
        if let Some(l) = label {
            if inputs.contains(&l) {
                return Err(ColumnError::LabelAsInput(names[l].clone()));
            }
        }
        Ok(Columns { inputs, label })
    }

    /// Every column the job reads, by name: the inputs, then the label.
    pub fn names(&self, names: &[String]) -> Vec<String> {
        self.inputs
            .iter()
            .chain(&self.label)
            .map(|j| names[*j].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["a", "b", "y", "c"].map(String::from).to_vec()
    }

    #[test]
    fn default_is_every_column_but_the_label() {
        let c = Columns::resolve(&names(), None, Some("y")).unwrap();
        assert_eq!(c.inputs, [0, 1, 3]);
        assert_eq!(c.label, Some(2));
        assert_eq!(c.names(&names()), ["a", "b", "c", "y"]);
        assert_eq!(
            Columns::resolve(&names(), None, None).unwrap().inputs,
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn named_columns_are_checked() {
        let pick = ["c".to_string(), "a".to_string()];
        assert_eq!(
            Columns::resolve(&names(), Some(&pick), None)
                .unwrap()
                .inputs,
            [3, 0]
        );
        let bad = ["z".to_string()];
        assert_eq!(
            Columns::resolve(&names(), Some(&bad), None),
            Err(ColumnError::Unknown("z".into()))
        );
        assert_eq!(
            Columns::resolve(&names(), None, Some("q")),
            Err(ColumnError::Unknown("q".into()))
        );
        let with_label = ["a".to_string(), "y".to_string()];
        assert_eq!(
            Columns::resolve(&names(), Some(&with_label), Some("y")),
            Err(ColumnError::LabelAsInput("y".into()))
        );
    }
}
