//! snarkjs's hash to G2, so a contribution's `[r]_2` is the point snarkjs
//! derives from the same transcript and `snarkjs zkey verify` checks our
//! contributions (and we check its).
//!
//! The 64-byte transcript hash seeds a ChaCha20 stream (key words: the
//! hash's first 32 bytes read as big-endian u32s; nonce zero; a 128-bit
//! block counter in words 12-15). Draws: a u64 is two words, the first the
//! high half; a field element of Fq is four u64s (the first the lowest),
//! masked to 254 bits and redrawn until below q, and taken as a Montgomery
//! representation (its value is `v / 2^256`); an Fq2 element is `c0` then
//! `c1`. A point: draw `x`, then a bit; repeat until `x^3 + b` is a square;
//! `y` is the root that is "negative" (`c1`, or `c0` when `c1` is zero,
//! above `(q-1)/2`) exactly when the bit is set, and the point is
//! multiplied by G2's cofactor.

use ark_bn254::{g2, Fq, Fq2, G2Affine};
use ark_ec::short_weierstrass::SWCurveConfig;
use ark_ec::{AffineRepr, CurveGroup};
use ark_ff::{BigInt, BigInteger, Field, PrimeField, Zero};

/// ffjavascript's ChaCha20 generator.
struct ChaCha {
    state: [u32; 16],
    block: [u32; 16],
    at: usize,
}

fn quarter(s: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(16);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(12);
    s[a] = s[a].wrapping_add(s[b]);
    s[d] = (s[d] ^ s[a]).rotate_left(8);
    s[c] = s[c].wrapping_add(s[d]);
    s[b] = (s[b] ^ s[c]).rotate_left(7);
}

impl ChaCha {
    fn new(seed: [u32; 8]) -> ChaCha {
        let mut state = [0u32; 16];
        state[..4].copy_from_slice(&[0x6170_7865, 0x3320_646E, 0x7962_2D32, 0x6B20_6574]);
        state[4..12].copy_from_slice(&seed);
        ChaCha {
            state,
            block: [0; 16],
            at: 16,
        }
    }

    fn next_u32(&mut self) -> u32 {
        if self.at == 16 {
            let mut b = self.state;
            for _ in 0..10 {
                quarter(&mut b, 0, 4, 8, 12);
                quarter(&mut b, 1, 5, 9, 13);
                quarter(&mut b, 2, 6, 10, 14);
                quarter(&mut b, 3, 7, 11, 15);
                quarter(&mut b, 0, 5, 10, 15);
                quarter(&mut b, 1, 6, 11, 12);
                quarter(&mut b, 2, 7, 8, 13);
                quarter(&mut b, 3, 4, 9, 14);
            }
            for (o, s) in b.iter_mut().zip(self.state) {
                *o = o.wrapping_add(s);
            }
            self.block = b;
            self.at = 0;
            for w in 12..16 {
                self.state[w] = self.state[w].wrapping_add(1);
                if self.state[w] != 0 {
                    break;
                }
            }
        }
        self.at += 1;
        self.block[self.at - 1]
    }

    fn next_u64(&mut self) -> u64 {
        let hi = self.next_u32() as u64;
        (hi << 32) | self.next_u32() as u64
    }

    fn next_bool(&mut self) -> bool {
        self.next_u32() & 1 == 1
    }

    fn fq(&mut self) -> Fq {
        let bits = Fq::MODULUS_BIT_SIZE;
        loop {
            let mut limbs = [0u64; 4];
            for l in limbs.iter_mut() {
                *l = self.next_u64();
            }
            limbs[3] &= (1u64 << (bits - 192)) - 1;
            let v = BigInt(limbs);
            if v < Fq::MODULUS {
                // The draw is a Montgomery representation, as ark keeps it.
                return Fq::new_unchecked(v);
            }
        }
    }
}

/// Whether `x` is above `(q-1)/2`.
fn negative(x: &Fq) -> bool {
    let mut half = Fq::MODULUS;
    half.div2();
    x.into_bigint() > half
}

fn fq2_negative(x: &Fq2) -> bool {
    if x.c1.is_zero() {
        negative(&x.c0)
    } else {
        negative(&x.c1)
    }
}

/// A G2 point drawn from the generator as ffjavascript's `G2.fromRng`.
fn from_rng(rng: &mut ChaCha) -> G2Affine {
    let (x, greatest, rhs) = loop {
        let c0 = rng.fq();
        let c1 = rng.fq();
        let x = Fq2::new(c0, c1);
        let greatest = rng.next_bool();
        let rhs = x.square() * x + g2::Config::COEFF_B;
        if rhs.legendre().is_qr() {
            break (x, greatest, rhs);
        }
    };
    let mut y = rhs.sqrt().expect("a square");
    if greatest ^ fq2_negative(&y) {
        y = -y;
    }
    let p = G2Affine::new_unchecked(x, y);
    let cofactor = BigInt::<4>::new(g2_cofactor());
    p.mul_bigint(cofactor).into_affine()
}

/// ffjavascript's G2 cofactor for bn128 (`2q - r`), little-endian limbs.
fn g2_cofactor() -> [u64; 4] {
    // 0x30644e72e131a029b85045b68181585e06ceecda572a2489345f2299c0f9fa8d
    [
        0x345f_2299_c0f9_fa8d,
        0x06ce_ecda_572a_2489,
        0xb850_45b6_8181_585e,
        0x3064_4e72_e131_a029,
    ]
}

/// snarkjs's `hashToG2`: the G2 point a contribution's transcript hash
/// names.
pub fn hash_to_g2(hash: &[u8; 64]) -> G2Affine {
    let mut seed = [0u32; 8];
    for (i, w) in seed.iter_mut().enumerate() {
        *w = u32::from_be_bytes(hash[4 * i..4 * i + 4].try_into().expect("4 bytes"));
    }
    let p = from_rng(&mut ChaCha::new(seed));
    debug_assert!(!p.is_zero());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chacha_is_the_rfc_block_function() {
        // RFC 8439 2.3.2's key and counter... with nonce zero and counter
        // zero the first words of the all-zero key's stream are the
        // well-known 76b8e0ad a0f13d90.
        let mut r = ChaCha::new([0; 8]);
        assert_eq!(r.next_u32(), 0xade0_b876);
        assert_eq!(r.next_u32(), 0x903d_f1a0);
    }

    #[test]
    fn points_are_in_the_group_and_depend_on_the_hash() {
        let a = hash_to_g2(&[1; 64]);
        let b = hash_to_g2(&[2; 64]);
        assert!(a.is_on_curve() && a.is_in_correct_subgroup_assuming_on_curve());
        assert_ne!(a, b);
        assert_eq!(a, hash_to_g2(&[1; 64]));
        // The cofactor is 2q - r.
        let mut two_q_minus_r = Fq::MODULUS;
        two_q_minus_r.mul2();
        two_q_minus_r.sub_with_borrow(&ark_bn254::Fr::MODULUS);
        assert_eq!(BigInt::<4>::new(g2_cofactor()), two_q_minus_r);
    }
}
