//! ReLU on a rescaled value: `max(0, floor(z / 2^shift))`.
//!
//! The rescale's decomposition already holds the sign bit, so ReLU is one
//! multiplication `sign * magnitude` (1 constraint on top of the rescale).

use crate::rescale::{rescale, Rescaled};
use crate::{Cs, Num, Result};

/// `max(0, r.value)`: 1 constraint.
pub fn relu(cs: &Cs, r: &Rescaled) -> Result<Num> {
    Num::mul(cs, &r.sign, &r.magnitude)
}

/// `max(0, floor(z / 2^shift))` for `z` in `[-2^(bits-1), 2^(bits-1))`:
/// `bits + 1` constraints.
pub fn rescale_relu(cs: &Cs, z: &Num, bits: usize, shift: usize) -> Result<Num> {
    relu(cs, &rescale(cs, z, bits, shift)?)
}

/// Reference semantics on integers.
pub fn rescale_relu_native(z: i128, shift: usize) -> i128 {
    (z >> shift).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_sound;
    use crate::{field_to_i128, i128_to_field};

    #[test]
    fn matches_the_reference_and_is_sound() {
        for z in [-2048i128, -17, -16, -1, 0, 1, 15, 16, 2047] {
            let (count, out) = assert_sound(1, |cs| {
                let zn = Num::witness(cs, Some(i128_to_field(z))).unwrap();
                vec![rescale_relu(cs, &zn, 12, 4).unwrap()]
            });
            assert_eq!(count, 13);
            assert_eq!(field_to_i128(out[0]), Some(rescale_relu_native(z, 4)));
        }
    }
}
