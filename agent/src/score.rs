//! Scoring closed-loop episodes: success rate with a Wilson 95% interval, mean length and
//! return, and answer accuracy on questions.

use serde::{Deserialize, Serialize};

/// How one episode went.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The task succeeded (for a question: answered correctly).
    pub success: bool,
    /// Decisions taken.
    pub length: u32,
    /// Sum of rewards.
    pub episode_return: f32,
    /// For questions: the true answer and the word given (`None` if it never answered).
    pub answer: Option<(String, Option<String>)>,
}

/// A group of episodes' summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// Episodes.
    pub episodes: usize,
    /// Successful episodes.
    pub successes: usize,
    /// successes / episodes.
    pub success_rate: f64,
    /// Wilson 95% interval of the success rate.
    pub success_ci95: (f64, f64),
    /// Mean decisions per episode.
    pub mean_length: f64,
    /// Mean return.
    pub mean_return: f64,
    /// Questions asked (episodes with a true answer).
    pub questions: usize,
    /// Questions answered at all.
    pub answered: usize,
    /// Correct answers over questions asked; `None` when there were no questions.
    pub answer_accuracy: Option<f64>,
    /// The most common true answer among these questions, and the accuracy of always giving it:
    /// the prior an answerer that ignores the scene can reach.
    pub majority: Option<(String, f64)>,
}

/// Wilson score interval for `k` successes in `n` trials at 95%.
pub fn wilson95(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (n, p) = (n as f64, k as f64 / n as f64);
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    // At 0 and n the bounds are exactly 0 and 1; rounding would put them a hair inside.
    let lo = if k == 0 { 0.0 } else { (centre - half).max(0.0) };
    let hi = if k as f64 == n { 1.0 } else { (centre + half).min(1.0) };
    (lo, hi)
}

/// Summarise outcomes.
pub fn summarise(outcomes: &[Outcome]) -> Summary {
    let n = outcomes.len();
    let successes = outcomes.iter().filter(|o| o.success).count();
    let per = |f: &dyn Fn(&Outcome) -> f64| if n == 0 { 0.0 } else { outcomes.iter().map(f).sum::<f64>() / n as f64 };
    let questions: Vec<&(String, Option<String>)> = outcomes.iter().filter_map(|o| o.answer.as_ref()).collect();
    let correct = questions.iter().filter(|(truth, given)| given.as_deref() == Some(truth.as_str())).count();
    Summary {
        episodes: n,
        successes,
        success_rate: if n == 0 { 0.0 } else { successes as f64 / n as f64 },
        success_ci95: wilson95(successes, n),
        mean_length: per(&|o| f64::from(o.length)),
        mean_return: per(&|o| f64::from(o.episode_return)),
        questions: questions.len(),
        answered: questions.iter().filter(|(_, g)| g.is_some()).count(),
        answer_accuracy: if questions.is_empty() { None } else { Some(correct as f64 / questions.len() as f64) },
        majority: majority(questions.iter().map(|(truth, _)| truth.as_str())),
    }
}

/// The most common of `answers` (the first in sorted order among ties) and its share.
fn majority<'a>(answers: impl Iterator<Item = &'a str>) -> Option<(String, f64)> {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for a in answers {
        *counts.entry(a).or_default() += 1;
    }
    let total: usize = counts.values().sum();
    let (word, n) = counts.into_iter().fold(None, |best: Option<(&str, usize)>, (w, n)| match best {
        Some((_, m)) if m >= n => best,
        _ => Some((w, n)),
    })?;
    Some((word.to_string(), n as f64 / total as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(truth: &str, given: Option<&str>) -> Outcome {
        let success = given == Some(truth);
        Outcome { success, length: 1, episode_return: f32::from(u8::from(success)), answer: Some((truth.into(), given.map(String::from))) }
    }

    #[test]
    fn answer_accuracy_on_a_hand_made_case() {
        // 5 questions: 3 right, 1 wrong, 1 never answered (timed out).
        let outcomes = vec![q("red", Some("red")), q("blue", Some("blue")), q("2", Some("3")), q("green", None), q("4", Some("4"))];
        let s = summarise(&outcomes);
        assert_eq!((s.questions, s.answered), (5, 4));
        assert_eq!(s.answer_accuracy, Some(0.6));
        // Five different true answers: the prior is one in five, on the first word in order.
        assert_eq!(s.majority, Some(("2".to_string(), 0.2)));
        let threes = summarise(&[q("3", Some("3")), q("2", None), q("3", Some("1")), q("2", Some("2")), q("3", None)]);
        assert_eq!(threes.majority, Some(("3".to_string(), 0.6)));
        assert_eq!(s.successes, 3);
        assert!((s.mean_return - 0.6).abs() < 1e-12);
        // A task without questions has no answer accuracy.
        let walk = Outcome { success: true, length: 12, episode_return: 0.9, answer: None };
        let s = summarise(&[walk.clone(), Outcome { success: false, length: 150, ..walk }]);
        assert_eq!((s.answer_accuracy, s.majority), (None, None));
        assert_eq!(s.mean_length, 81.0);
    }

    #[test]
    fn wilson_interval_matches_known_values() {
        // 8 of 10: (0.4902, 0.9433); 0 of 20: (0, 0.1611); all of 200: (0.9812, 1).
        let close = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 5e-4 && (a.1 - b.1).abs() < 5e-4;
        assert!(close(wilson95(8, 10), (0.4902, 0.9433)), "{:?}", wilson95(8, 10));
        assert!(close(wilson95(0, 20), (0.0, 0.1611)), "{:?}", wilson95(0, 20));
        assert!(close(wilson95(200, 200), (0.9812, 1.0)), "{:?}", wilson95(200, 200));
        assert_eq!(wilson95(0, 0), (0.0, 1.0));
        assert_eq!((wilson95(0, 3).0, wilson95(3, 3).1), (0.0, 1.0));
    }
}
