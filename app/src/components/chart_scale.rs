//! The value axis of a chart: a top and a step that people read easily (1, 2, 2.5 or 5 times a
//! power of ten), chosen so that the axis has at most [`MAX_TICKS`] steps above zero.

/// The most steps above zero an axis shows.
pub const MAX_TICKS: usize = 5;

/// A value axis from zero to `top`, with a tick every `step`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub top: f64,
    pub step: f64,
}

impl Scale {
    /// The axis for values up to `max`. Counts (`integer`) step by whole numbers only. An axis with
    /// nothing to show (no values, or all zero) still has one step, so that zero sits at the
    /// bottom rather than in the middle.
    pub fn for_max(max: f64, integer: bool) -> Self {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            0.0
        };
        if max == 0.0 {
            return Self {
                top: 1.0,
                step: 1.0,
            };
        }
        #[allow(clippy::cast_precision_loss)]
        let raw = max / MAX_TICKS as f64;
        let mut magnitude = 10f64.powf(raw.log10().floor());
        loop {
            for factor in [1.0, 2.0, 2.5, 5.0] {
                let step = factor * magnitude;
                if integer && (step < 1.0 || step.fract() != 0.0) {
                    continue;
                }
                if (max / step).ceil() <= MAX_TICKS as f64 + 1e-9 {
                    return Self {
                        top: (max / step - 1e-9).ceil().max(1.0) * step,
                        step,
                    };
                }
            }
            magnitude *= 10.0;
        }
    }

    /// The tick values from zero to the top.
    pub fn ticks(&self) -> Vec<f64> {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let count = (self.top / self.step).round() as usize;
        #[allow(clippy::cast_precision_loss)]
        (0..=count).map(|i| i as f64 * self.step).collect()
    }

    /// `value`'s height as a share of the axis, from 0 to 1.
    pub fn share(&self, value: f64) -> f64 {
        (value / self.top).clamp(0.0, 1.0)
    }

    /// A tick's label: whole numbers without decimals, else as many decimals as the step needs.
    pub fn label(&self, value: f64) -> String {
        let decimals = if self.step.fract() == 0.0 {
            0
        } else if (self.step * 10.0).fract().abs() < 1e-9 {
            1
        } else {
            2
        };
        format!("{value:.decimals$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round_and_at_most_five() {
        let cases: &[(f64, bool, f64, f64)] = &[
            (7.0, true, 8.0, 2.0),
            (3.0, true, 3.0, 1.0),
            (1.0, true, 1.0, 1.0),
            (10.0, true, 10.0, 2.0),
            (11.0, true, 15.0, 5.0),
            (100.0, false, 100.0, 20.0),
            (0.37, false, 0.4, 0.1),
            (12.5, false, 12.5, 2.5),
            (13.0, false, 15.0, 5.0),
            (41.0, false, 50.0, 10.0),
            // Counts never step by less than one, however small the largest.
            (0.4, true, 1.0, 1.0),
        ];
        for &(max, integer, top, step) in cases {
            let scale = Scale::for_max(max, integer);
            assert!(
                (scale.top - top).abs() < 1e-9 && (scale.step - step).abs() < 1e-9,
                "{max}: {scale:?}, expected top {top} step {step}"
            );
            assert!(scale.ticks().len() <= MAX_TICKS + 1, "{max}: {scale:?}");
            assert!(scale.top >= max);
        }
    }

    #[test]
    fn nothing_to_show_still_has_an_axis() {
        for max in [0.0, -3.0, f64::NAN] {
            assert_eq!(
                Scale::for_max(max, false),
                Scale {
                    top: 1.0,
                    step: 1.0
                }
            );
        }
    }

    #[test]
    fn ticks_and_labels() {
        let scale = Scale::for_max(7.0, true);
        let labels: Vec<_> = scale.ticks().iter().map(|t| scale.label(*t)).collect();
        assert_eq!(labels, ["0", "2", "4", "6", "8"]);
        let scale = Scale::for_max(0.37, false);
        let labels: Vec<_> = scale.ticks().iter().map(|t| scale.label(*t)).collect();
        assert_eq!(labels, ["0.0", "0.1", "0.2", "0.3", "0.4"]);
        let scale = Scale::for_max(11.0, false);
        assert_eq!((scale.top, scale.step), (12.5, 2.5));
        assert_eq!(scale.label(7.5), "7.5");
        assert!((scale.share(6.25) - 0.5).abs() < 1e-9);
        assert!((scale.share(99.0) - 1.0).abs() < 1e-9);
    }
}
