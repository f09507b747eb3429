//! The action vocabulary a model was trained with. A model's action tokens mean the names of its
//! training data's `action_vocabulary`, in order; the checkpoint stores them, and every later use
//! (resuming, fine-tuning from it, evaluating it in an env) checks its own list against them.

use crate::AgentError;
use crate::dataset::Dataset;

/// The one action vocabulary of `data`: every dataset's must be the same, one name for each of
/// the model's `tokens` action tokens (data recorded before `toggle` existed has 11 names, and a
/// model of 11 tokens reads it).
pub fn of_datasets(data: &[Dataset], tokens: usize) -> Result<Vec<String>, AgentError> {
    let Some(first) = data.first() else { return Ok(Vec::new()) };
    let names = first.info().action_vocabulary.clone();
    for d in &data[1..] {
        check(&names, &format!("dataset {}", first.dir().display()), &d.info().action_vocabulary, &format!("dataset {}", d.dir().display()))?;
    }
    if names.len() != tokens {
        return Err(AgentError::Config(format!(
            "dataset {} has {} actions [{}]; the model has {tokens} action tokens (dynamics.action_tokens): data and model must come from the same action vocabulary",
            first.dir().display(),
            names.len(),
            names.join(", ")
        )));
    }
    Ok(names)
}

/// A one-line error unless every action of a model (`model`, what `model_is`) is one the env
/// knows (`env`): then the model's action `i` plays the env's action named `model[i]`. A model
/// trained before the env gained an action (`toggle`) plays on without it.
pub fn check_playable(model: &[String], model_is: &str, env: &[String]) -> Result<(), AgentError> {
    match model.iter().find(|n| !env.contains(n)) {
        None => Ok(()),
        Some(n) => Err(AgentError::Config(format!("{model_is} has action `{n}`, which the env lacks: it has [{}], the env has [{}]", model.join(", "), env.join(", ")))),
    }
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

    /// A model from before `toggle` plays by name in an env that has it; a model with an action
    /// the env lacks is refused in one line naming both lists.
    #[test]
    fn an_older_model_plays_by_name_and_an_unknown_action_is_refused() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let env = names(&["noop", "forward", "done", "toggle", "answer"]);
        assert!(check_playable(&names(&["noop", "forward", "done", "answer"]), "the agent", &env).is_ok());
        let e = check_playable(&names(&["noop", "jump"]), "the agent a", &env).expect_err("jump").to_string();
        assert_eq!(e, "the agent a has action `jump`, which the env lacks: it has [noop, jump], the env has [noop, forward, done, toggle, answer]");
    }

    /// The old config of a checkpoint (no `dynamics.action_tokens`) reads as the 11 tokens it
    /// was trained with; a new one keeps its own.
    #[test]
    fn a_saved_config_without_action_tokens_is_an_eleven_token_model() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tiny = crate::config::Config::tiny();
        let mut json: serde_json::Value = serde_json::to_value(&tiny).expect("json");
        let path = dir.path().join("config.json");
        std::fs::write(&path, json.to_string()).expect("write");
        assert_eq!(crate::checkpoint::load_saved_config(&path).expect("load").dynamics.action_tokens, crate::config::ACTION_TOKENS);
        json["dynamics"].as_object_mut().expect("object").remove("action_tokens");
        std::fs::write(&path, json.to_string()).expect("write");
        assert_eq!(crate::checkpoint::load_saved_config(&path).expect("load").dynamics.action_tokens, crate::config::LEGACY_ACTION_TOKENS);
    }
}
