//! The text vocabulary of a fine-tuning run: the words of the demonstrations' missions and
//! their answer vocabularies.

use crate::AgentError;
use crate::dataset::Dataset;
use crate::text::TextVocab;

/// The vocabulary of the datasets' missions and answer words, and of `extra` texts (an online
/// run names every word its scenarios can say up front, so ids stay fixed as its data grows).
pub fn build_vocab(data: &[Dataset], extra: &[String]) -> Result<(TextVocab, Vec<String>), AgentError> {
    let mut texts = extra.to_vec();
    let mut answers: Vec<String> = Vec::new();
    for d in data {
        for i in 0..d.num_episodes() {
            texts.push(d.episode(i)?.meta.mission.clone());
        }
        for a in &d.info().answer_vocabulary {
            if !answers.contains(a) {
                answers.push(a.clone());
            }
        }
    }
    texts.extend(answers.iter().cloned());
    Ok((TextVocab::build(texts.iter().map(String::as_str)), answers))
}

