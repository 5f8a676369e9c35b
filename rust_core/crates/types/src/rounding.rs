//! Rounding rules of ENGINE §10: ticks, lots and output decimals.

/// Rounds half away from zero to the nearest integer value.
#[must_use]
pub fn round_half_away(x: f64) -> f64 {
    x.signum() * (x.abs() + 0.5).floor()
}

/// Rounds `x` to `decimals` places for output: `sign(x) * floor(|x| * 10^d + 0.5) / 10^d`.
///
/// A negative zero result comes back as `0.0`, so artifacts never print `-0.0`.
#[must_use]
pub fn round_to_decimals(x: f64, decimals: u32) -> f64 {
    let scale = 10f64.powi(decimals as i32);
    let rounded = x.signum() * (x.abs() * scale + 0.5).floor() / scale;
    if rounded == 0.0 { 0.0 } else { rounded }
}

/// A price grid: rounds prices to the nearest multiple of the tick size.
///
/// With `q = round(1 / tick_size)` ticks per unit, a price rounds to `round(price * q) / q`,
/// so a rounded level is the very double that a data file holds for that decimal price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick {
    per_unit: f64,
    /// The decimals that write every price of the grid exactly (5 for 0.00001, 2 for
    /// 0.25, 3 for 0.125), or `None` when no decimal form of at most 15 places does
    /// (1/3, 2^-20): such prices are written as the grid's own doubles.
    decimals: Option<u32>,
}

impl Tick {
    /// Builds the grid for `tick_size` (> 0).
    #[must_use]
    pub fn new(tick_size: f64) -> Self {
        let per_unit = round_half_away(1.0 / tick_size);
        Self { per_unit, decimals: terminating_decimals(per_unit) }
    }

    /// Returns `price` rounded to the nearest tick (half away from zero).
    #[must_use]
    pub fn round(&self, price: f64) -> f64 {
        round_half_away(price * self.per_unit) / self.per_unit
    }

    /// Returns `price` rounded to the grid's decimals for output (ENGINE §10: prices
    /// carry the tick's decimals), or `price` itself when the grid has none.
    #[must_use]
    pub fn for_output(&self, price: f64) -> f64 {
        self.decimals.map_or(price, |d| round_to_decimals(price, d))
    }
}

/// The most decimals a price is rounded to for output: beyond them `|price| * 10^d`
/// loses the exactness that output rounding needs.
const MAX_PRICE_DECIMALS: u32 = 15;

/// Returns the decimals of `1 / per_unit` when it is a terminating decimal fraction of
/// at most [`MAX_PRICE_DECIMALS`] places: `per_unit = 2^a * 5^b` needs `max(a, b)`.
fn terminating_decimals(per_unit: f64) -> Option<u32> {
    if !(1.0..=1e15).contains(&per_unit) {
        return None;
    }
    let mut rest = per_unit as u64;
    let mut count = |factor: u64| {
        let mut times = 0;
        while rest.is_multiple_of(factor) {
            rest /= factor;
            times += 1;
        }
        times
    };
    let (twos, fives) = (count(2), count(5));
    let decimals = twos.max(fives);
    (rest == 1 && decimals <= MAX_PRICE_DECIMALS).then_some(decimals)
}

/// Floors a raw lot size onto the lot grid: `floor(x / lot_step + 1e-9) / round(1 / lot_step)`.
#[must_use]
pub fn floor_lots(raw: f64, lot_step: f64) -> f64 {
    let steps = (raw / lot_step + 1e-9).floor();
    steps / round_half_away(1.0 / lot_step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tick_rounding_gives_the_decimal_double() {
        let tick = Tick::new(0.00001);
        assert_eq!(tick.round(1.099_714_9), 1.09971);
        assert_eq!(tick.round(1.099_715), 1.09972);
        assert_eq!(tick.decimals, Some(5));
        // 109971 * 0.00001 is one ulp above 1.09971; the grid must not produce it.
        assert_eq!(tick.round(109_971.0 * 0.00001), 1.09971);
        assert_eq!(Tick::new(0.001).decimals, Some(3));
    }

    #[test]
    fn a_tick_that_is_not_a_power_of_ten_keeps_its_decimals() {
        assert_eq!(Tick::new(0.25).decimals, Some(2));
        assert_eq!(Tick::new(0.125).decimals, Some(3));
        assert_eq!(Tick::new(0.2).decimals, Some(1));
        assert_eq!(Tick::new(0.5).decimals, Some(1));
        assert_eq!(Tick::new(1.0).decimals, Some(0));
        assert_eq!(Tick::new(0.25).for_output(37_890.25), 37_890.25);
        assert_eq!(Tick::new(0.125).for_output(1.375), 1.375);
        // No finite decimal form: the grid's double itself.
        let third = Tick::new(1.0 / 3.0);
        assert_eq!(third.decimals, None);
        assert_eq!(third.for_output(third.round(1.3)), 4.0 / 3.0);
        assert_eq!(Tick::new(1.0 / 1_048_576.0).decimals, None); // 2^-20: 20 places
    }

    #[test]
    fn output_rounding_is_half_away_from_zero() {
        assert_eq!(round_to_decimals(2.345, 2), 2.35);
        assert_eq!(round_to_decimals(-2.345, 2), -2.35);
        assert_eq!(round_to_decimals(-0.001, 2), 0.0);
        assert!(round_to_decimals(-0.001, 2).is_sign_positive());
        assert_eq!(round_to_decimals(0.123_45, 4), 0.1235);
    }

    #[test]
    fn lots_floor_onto_the_grid() {
        assert_eq!(floor_lots(1.239_999, 0.01), 1.23);
        assert_eq!(floor_lots(0.29, 0.01), 0.29); // 0.29 / 0.01 = 28.999999999999996
        assert_eq!(floor_lots(0.009, 0.01), 0.0);
        assert_eq!(floor_lots(7.0, 1.0), 7.0);
    }

    proptest! {
        #[test]
        fn tick_rounding_is_idempotent_and_close(price in 0.5f64..200.0) {
            let tick = Tick::new(0.00001);
            let once = tick.round(price);
            prop_assert_eq!(tick.round(once), once);
            prop_assert!((once - price).abs() <= 0.000_005 + 1e-12);
        }

        #[test]
        fn lots_never_exceed_the_raw_size(raw in 0.0f64..1000.0) {
            let lots = floor_lots(raw, 0.01);
            prop_assert!(lots <= raw + 1e-7);
            prop_assert!(raw - lots < 0.01 + 1e-9);
        }
    }
}
