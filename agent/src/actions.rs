//! The action vocabulary a model was trained with. A model's action tokens mean the names of its
//! training data's `action_vocabulary`, in order; the checkpoint stores them, and every later use
//! (resuming, fine-tuning from it, evaluating it in an env) checks its own list against them.

use crate::AgentError;
use crate::config::ACTION_TOKENS;
use crate::dataset::Dataset;

/// The one action vocabulary of `data`: every dataset's must be the same, and fit the model's
/// [`ACTION_TOKENS`] action tokens.
pub fn of_datasets(data: &[Dataset]) -> Result<Vec<String>, AgentError> {
    let Some(first) = data.first() else { return Ok(Vec::new()) };
    let names = first.info().action_vocabulary.clone();
    for d in &data[1..] {
        check(&names, &format!("dataset {}", first.dir().display()), &d.info().action_vocabulary, &format!("dataset {}", d.dir().display()))?;
    }
    if names.len() > ACTION_TOKENS {
        return Err(AgentError::Config(format!("dataset {} has {} actions ({}); the model has {ACTION_TOKENS} action tokens", first.dir().display(), names.len(), names.join(", "))));
    }
    Ok(names)
}

/// A one-line error naming both lists unless `a` (what `a_is`) equals `b` (what `b_is`). An empty
/// `a` is a checkpoint written before vocabularies were stored, and passes.
pub fn check(a: &[String], a_is: &str, b: &[String], b_is: &str) -> Result<(), AgentError> {
    if a.is_empty() || a == b {
        return Ok(());
    }
    Err(AgentError::Config(format!("action vocabularies differ: {a_is} has [{}], {b_is} has [{}]", a.join(", "), b.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mismatch_names_both_lists_and_an_unrecorded_list_passes() {
        let a: Vec<String> = ["noop", "forward"].map(String::from).to_vec();
        let b: Vec<String> = ["forward", "noop"].map(String::from).to_vec();
        let e = check(&a, "the model", &b, "dataset d").expect_err("differs").to_string();
        assert_eq!(e, "action vocabularies differ: the model has [noop, forward], dataset d has [forward, noop]");
        assert!(check(&a, "x", &a, "y").is_ok());
        assert!(check(&[], "an old checkpoint", &b, "y").is_ok());
    }
}
