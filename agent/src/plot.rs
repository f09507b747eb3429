//! SVG plots (no fonts or display needed): loss curves and PSNR against rollout horizon.

use std::path::Path;

use plotters::prelude::*;

use crate::AgentError;
use crate::atomic::write_atomic;
use crate::checkpoint::Stage;
use crate::metrics::mean;
use crate::run_dir::{MetricsRow, RunDir};

const COLORS: [RGBColor; 6] = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40), RGBColor(148, 103, 189), RGBColor(140, 86, 75)];

/// One named line.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
    /// Draw dashed (for baselines).
    pub dashed: bool,
    /// Palette index; by default the series' own index.
    pub color: Option<usize>,
}

/// Draw `series` into an SVG at `path` (written atomically). `log_y` plots log10 of y.
pub fn line_chart(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series], log_y: bool) -> Result<(), AgentError> {
    let tf = |y: f64| if log_y { y.max(1e-12).log10() } else { y };
    let pts = series.iter().flat_map(|s| s.points.iter().map(|&(x, y)| (x, tf(y))));
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts.filter(|p| p.1.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.05).max(1e-3);
    let (y0, y1) = (y0 - pad, y1 + pad);
    let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 420)).into_drawing_area();
        let draw = |e: &dyn std::fmt::Display| AgentError::Config(format!("plotting {}: {e}", path.display()));
        root.fill(&WHITE).map_err(|e| draw(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| draw(&e))?;
        let y_desc = if log_y { format!("log10 {y_label}") } else { y_label.to_string() };
        chart.configure_mesh().x_desc(x_label).y_desc(y_desc).draw().map_err(|e| draw(&e))?;
        for (i, s) in series.iter().enumerate() {
            let color = COLORS[s.color.unwrap_or(i) % COLORS.len()];
            let data: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (x, tf(y))).filter(|p| p.1.is_finite()).collect();
            let style = ShapeStyle { color: color.to_rgba(), filled: false, stroke_width: 2 };
            let drawn = if s.dashed {
                chart.draw_series(DashedLineSeries::new(data, 6, 4, style)).map_err(|e| draw(&e))?
            } else {
                chart.draw_series(LineSeries::new(data, style)).map_err(|e| draw(&e))?
            };
            drawn.label(s.label.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|e| draw(&e))?;
        root.present().map_err(|e| draw(&e))?;
    }
    write_atomic(path, svg.as_bytes()).map_err(|e| AgentError::io(path, e))
}

/// Redraw the loss curve of each stage `metrics.jsonl` holds: `tokenizer_loss.svg`,
/// `dynamics_loss.svg` (pretraining), `finetune_loss.svg` (fine-tuning).
pub fn plot_losses(run: &Path) -> Result<(), AgentError> {
    let run = RunDir::new(run);
    let rows = run.metrics_rows();
    let stages = [
        (Stage::Tokenizer, "tokenizer_loss.svg", "Tokenizer: reconstruction MSE", "validation"),
        (Stage::Dynamics, "dynamics_loss.svg", "Dynamics: next-token cross-entropy", "validation"),
        (Stage::Finetune, "finetune_loss.svg", "Fine-tuning: action and answer cross-entropy", "validation (actions and answers only)"),
    ];
    for (stage, file, title, val_label) in stages {
        let train = loss_points(&rows, stage, |r| match r {
            MetricsRow::Step(s) => Some((s.stage, s.step, s.loss)),
            _ => None,
        });
        if train.is_empty() {
            continue;
        }
        let val = loss_points(&rows, stage, |r| match r {
            MetricsRow::Validation(v) => Some((v.stage, v.step, v.val_loss)),
            _ => None,
        });
        let series = vec![
            Series { label: "train".into(), points: smooth(&train, 20), dashed: false, color: None },
            Series { label: val_label.into(), points: val, dashed: true, color: None },
        ];
        line_chart(&run.file(file), title, "step", "loss", &series, true)?;
    }
    Ok(())
}

/// A row's stage, step and loss, for the rows of one kind.
type LossOf = fn(&MetricsRow) -> Option<(Stage, u64, f64)>;

/// `stage`'s (step, loss) points among the rows `pick` reads, NaN losses left out.
fn loss_points(rows: &[MetricsRow], stage: Stage, pick: LossOf) -> Vec<(f64, f64)> {
    rows.iter().filter_map(pick).filter(|(s, _, y)| *s == stage && !y.is_nan()).map(|(_, x, y)| (x as f64, y)).collect()
}

/// Trailing mean over `k` points, to read a noisy loss curve.
fn smooth(points: &[(f64, f64)], k: usize) -> Vec<(f64, f64)> {
    (0..points.len())
        .map(|i| {
            let lo = i.saturating_sub(k - 1);
            let ys: Vec<f64> = points[lo..=i].iter().map(|p| p.1).collect();
            (points[i].0, mean(&ys))
        })
        .collect()
}
