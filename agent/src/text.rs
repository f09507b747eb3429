//! The word-level text vocabulary for missions, questions and answers (instruction tuning and
//! prompting). Words are lower-cased runs of letters and digits; punctuation marks are words of
//! their own. Id 0 is the unknown word, id 1 pads. The vocabulary is saved beside a checkpoint as JSON.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::AgentError;
use crate::atomic::write_atomic;

/// What unknown words become (id 0).
pub const UNKNOWN: &str = "<unk>";
/// Fills a sequence's unused text slots (id 1).
pub const PAD: &str = "<pad>";
/// The id of [`PAD`].
pub const PAD_ID: u32 = 1;

/// A closed, ordered word list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextVocab {
    words: Vec<String>,
    #[serde(skip)]
    index: HashMap<String, u32>,
}

/// Split text into words: lower-cased alphanumeric runs, and each other visible character alone.
pub fn split_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if !c.is_whitespace() {
                out.push(c.to_string());
            }
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

impl TextVocab {
    /// Every word of `texts`, sorted, after the unknown word: the same texts give the same ids.
    pub fn build<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut words: Vec<String> = texts.into_iter().flat_map(split_words).collect();
        words.sort();
        words.dedup();
        words.retain(|w| w != UNKNOWN && w != PAD);
        words.insert(0, UNKNOWN.to_string());
        words.insert(1, PAD.to_string());
        Self::from_words(words)
    }

    /// This vocabulary with `other`'s words that it lacks appended in `other`'s order: every
    /// word known here keeps its id.
    pub fn extended(&self, other: &TextVocab) -> Self {
        let mut words = self.words.clone();
        words.extend(other.words.iter().filter(|w| !self.index.contains_key(*w)).cloned());
        Self::from_words(words)
    }

    fn from_words(words: Vec<String>) -> Self {
        let index = words.iter().enumerate().map(|(i, w)| (w.clone(), i as u32)).collect();
        Self { words, index }
    }

    /// Number of ids, the unknown word included.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether only the unknown and padding words are known.
    pub fn is_empty(&self) -> bool {
        self.words.len() <= 2
    }

    /// The id of a word, if known.
    pub fn id(&self, word: &str) -> Option<u32> {
        self.index.get(word).copied()
    }

    /// The word of an id.
    pub fn word(&self, id: u32) -> Option<&str> {
        self.words.get(id as usize).map(String::as_str)
    }

    /// Ids of `text`'s words, and the words that were not in the vocabulary (mapped to id 0).
    pub fn encode(&self, text: &str) -> (Vec<u32>, Vec<String>) {
        let mut unknown = Vec::new();
        let ids = split_words(text)
            .into_iter()
            .map(|w| {
                self.index.get(&w).copied().unwrap_or_else(|| {
                    unknown.push(w);
                    0
                })
            })
            .collect();
        (ids, unknown)
    }

    /// Ids of the last `n` words of `text`, whether words before them were cut, and the words
    /// outside the vocabulary: what a model reading `n` words sees of a longer instruction.
    pub fn encode_last(&self, text: &str, n: usize) -> (Vec<u32>, bool, Vec<String>) {
        let (mut ids, unknown) = self.encode(text);
        let cut = ids.len().saturating_sub(n);
        ids.drain(..cut);
        (ids, cut > 0, unknown)
    }

    /// The words of `ids`, joined by spaces (out-of-range ids read as the unknown word).
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter().map(|&i| self.words.get(i as usize).map_or(UNKNOWN, String::as_str)).collect::<Vec<_>>().join(" ")
    }

    /// Write as JSON (atomically).
    pub fn save(&self, path: &Path) -> Result<(), AgentError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| AgentError::Config(e.to_string()))?;
        write_atomic(path, text.as_bytes()).map_err(|e| AgentError::io(path, e))
    }

    /// Read a vocabulary saved by [`TextVocab::save`].
    pub fn load(path: &Path) -> Result<Self, AgentError> {
        let text = std::fs::read_to_string(path).map_err(|e| AgentError::io(path, e))?;
        let v: TextVocab =
            serde_json::from_str(&text).map_err(|e| AgentError::Checkpoint { path: path.to_path_buf(), message: format!("not a text vocabulary: {e}") })?;
        if v.words.first().map(String::as_str) != Some(UNKNOWN) || v.words.get(1).map(String::as_str) != Some(PAD) {
            return Err(AgentError::Checkpoint { path: path.to_path_buf(), message: format!("the first words must be {UNKNOWN} and {PAD}") });
        }
        Ok(Self::from_words(v.words))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_unknown_words() -> Result<(), AgentError> {
        let v = TextVocab::build(["go to the red cube", "How many yellow objects are there?"]);
        assert_eq!(v.len(), 14);
        assert_eq!(v.id(PAD), Some(PAD_ID));
        assert_eq!(v.encode_last("go to the red cube", 2), (v.encode("red cube").0, true, Vec::new()));
        assert_eq!(v.encode_last("go to the red cube", 9), (v.encode("go to the red cube").0, false, Vec::new()));
        let (ids, unknown) = v.encode("how many red objects are there?");
        assert!(unknown.is_empty());
        assert_eq!(v.decode(&ids), "how many red objects are there ?");
        let (ids, unknown) = v.encode("go to the purple torus");
        assert_eq!(unknown, vec!["purple".to_string(), "torus".to_string()]);
        assert_eq!(&ids[3..], &[0, 0]);
        assert_eq!(v.decode(&ids), "go to the <unk> <unk>");
        // Same texts in another order: same ids.
        assert_eq!(TextVocab::build(["How many yellow objects are there?", "go to the red cube"]), v);
        let dir = tempfile::tempdir().map_err(|e| AgentError::Config(e.to_string()))?;
        let path = dir.path().join("vocab.json");
        v.save(&path)?;
        let back = TextVocab::load(&path)?;
        assert_eq!(back.encode("go to the red cube"), v.encode("go to the red cube"));
        std::fs::write(&path, "[1, 2").map_err(|e| AgentError::Config(e.to_string()))?;
        assert!(TextVocab::load(&path).is_err_and(|e| e.to_string().contains("vocab.json")));
        Ok(())
    }
}
