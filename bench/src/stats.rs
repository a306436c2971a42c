//! Order statistics over a handful of samples, in milliseconds.

use serde_json::{Value, json};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Summary {
    pub n: usize,
    pub median_ms: f64,
    /// Nearest-rank 90th percentile.
    pub p90_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    pub fn of(samples: &[Duration]) -> Self {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        let n = ms.len();
        if n == 0 {
            return Self {
                n,
                median_ms: f64::NAN,
                p90_ms: f64::NAN,
                min_ms: f64::NAN,
                max_ms: f64::NAN,
            };
        }
        let median = if n % 2 == 1 {
            ms[n / 2]
        } else {
            (ms[n / 2 - 1] + ms[n / 2]) / 2.0
        };
        let rank = ((0.9 * n as f64).ceil() as usize).clamp(1, n);
        Self {
            n,
            median_ms: median,
            p90_ms: ms[rank - 1],
            min_ms: ms[0],
            max_ms: ms[n - 1],
        }
    }

    pub fn to_json(&self) -> Value {
        json!({ "n": self.n, "median_ms": self.median_ms, "p90_ms": self.p90_ms, "min_ms": self.min_ms, "max_ms": self.max_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p90_by_nearest_rank() {
        let s = Summary::of(&(1..=10).map(Duration::from_millis).collect::<Vec<_>>());
        assert_eq!(s.median_ms, 5.5);
        assert_eq!(s.p90_ms, 9.0);
        assert_eq!(s.min_ms, 1.0);
        assert_eq!(s.max_ms, 10.0);
        let s = Summary::of(&[
            Duration::from_millis(3),
            Duration::from_millis(1),
            Duration::from_millis(2),
        ]);
        assert_eq!(s.median_ms, 2.0);
        assert_eq!(s.p90_ms, 3.0);
    }
}
