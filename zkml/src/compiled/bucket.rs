//! A multi-scalar multiplication for full-size scalars with buckets
//! accumulated in affine coordinates (the quotient's MSM, about two thirds
//! of a proof's time).
//!
//! Pippenger's method with signed digits, as ark-ec's; the difference is how
//! a point joins its bucket. ark-ec keeps buckets in projective form and
//! adds each point with a mixed addition (about 11 field multiplications).
//! Here buckets are affine points and a batch of additions, each to a
//! distinct bucket, shares one field inversion (Montgomery's trick), so an
//! addition costs about 6. A point whose bucket is already in the batch
//! waits for the next one. Buckets are then summed in projective form as
//! usual. The result is the same group element as ark-ec's MSM.

use ark_ec::short_weierstrass::{Affine, Projective, SWCurveConfig};
use ark_ec::{AdditiveGroup, AffineRepr};
use ark_ff::{BigInteger, Field, PrimeField, Zero};
use rayon::prelude::*;

/// Additions that share one inversion.
const BATCH: usize = 1024;

/// `sum_i scalars[i] * bases[i]` (the shorter slice's length).
pub fn msm<P: SWCurveConfig>(
    bases: &[Affine<P>],
    scalars: &[<P::ScalarField as PrimeField>::BigInt],
) -> Projective<P> {
    let n = bases.len().min(scalars.len());
    if n == 0 {
        return Projective::zero();
    }
    // A scalar over p/2 is used as -(p - s) (a small negative value then
    // has as few digits as a small positive one).
    let half = {
        let mut h = P::ScalarField::MODULUS;
        h.div2();
        h
    };
    let (negated, magnitudes): (Vec<bool>, Vec<_>) = scalars[..n]
        .par_iter()
        .map(|s| {
            if *s > half {
                let mut m = P::ScalarField::MODULUS;
                m.sub_with_borrow(s);
                (true, m)
            } else {
                (false, *s)
            }
        })
        .unzip();
    // Short scalars (a random linear combination's) take fewer windows.
    let bits = magnitudes
        .iter()
        .map(|m| m.num_bits() as usize)
        .max()
        .unwrap_or(0)
        .max(1);
    let c = window_bits(n, bits);
    let windows = window_count(bits, c);
    let digits = signed_digits(&magnitudes, c, windows);
    drop(magnitudes);
    // Tasks: whole windows, as many as divide evenly among the threads; the
    // remaining windows split by points, so no thread waits on a last one.
    let threads = rayon::current_num_threads().max(1);
    let whole = windows - windows % threads;
    let mut tasks: Vec<(usize, std::ops::Range<usize>)> = (0..whole).map(|w| (w, 0..n)).collect();
    for w in whole..windows {
        let part = n.div_ceil(threads);
        tasks.extend((0..threads).map(|t| (w, (t * part).min(n)..((t + 1) * part).min(n))));
    }
    let sums: Vec<(usize, Projective<P>)> = tasks
        .into_par_iter()
        .map(|(w, r)| {
            let d = &digits[w * n..(w + 1) * n];
            (
                w,
                window_sum(&bases[r.clone()], &negated[r.clone()], &d[r], c),
            )
        })
        .collect();
    let mut per_window = vec![Projective::<P>::zero(); windows];
    for (w, s) in sums {
        per_window[w] += s;
    }
    let mut acc = Projective::<P>::zero();
    for s in per_window.iter().rev() {
        for _ in 0..c {
            acc.double_in_place();
        }
        acc += s;
    }
    acc
}

/// The widest window whose signed digits fit an `i16` (up to `2^(c-1)`).
const MAX_WINDOW: usize = 15;

/// Windows of signed digits in `[-2^(c-1), 2^(c-1)]` for scalars of `bits`
/// bits: one more than the bits need for the carry, unless the top window
/// is short (its digit, carry included, is then at most `2^(c-1)`).
fn window_count(bits: usize, c: usize) -> usize {
    if !bits.is_multiple_of(c) {
        bits.div_ceil(c)
    } else {
        bits / c + 1
    }
}

/// The window minimizing `windows * (n * 6 + 2^(c-1) * 2 * 16)` (affine
/// additions per point, projective additions per bucket) for scalars of
/// `bits` bits.
fn window_bits(n: usize, bits: usize) -> usize {
    (4..=MAX_WINDOW)
        .min_by_key(|c| {
            let windows = window_count(bits, *c);
            windows * (n * 6 + (1usize << (c - 1)) * 32)
        })
        .expect("a window")
}

/// Window-major signed digits: `digits[w * n + i]` is scalar `i`'s digit
/// in window `w`.
fn signed_digits<B: BigInteger>(scalars: &[B], c: usize, windows: usize) -> Vec<i16> {
    let n = scalars.len();
    let mut digits = vec![0i16; windows * n];
    let half = 1i64 << (c - 1);
    for (i, s) in scalars.iter().enumerate() {
        let limbs = s.as_ref();
        let mut carry = 0i64;
        for w in 0..windows {
            let at = w * c;
            let mut raw = 0u64;
            if at < limbs.len() * 64 {
                let (limb, shift) = (at / 64, at % 64);
                raw = limbs[limb] >> shift;
                if shift + c > 64 && limb + 1 < limbs.len() {
                    raw |= limbs[limb + 1] << (64 - shift);
                }
                raw &= (1u64 << c) - 1;
            }
            let mut d = raw as i64 + carry;
            carry = 0;
            if d > half {
                d -= 1 << c;
                carry = 1;
            }
            digits[w * n + i] = d as i16;
        }
    }
    digits
}

/// `sum_k (k + 1) * B_k` for the buckets `B_k` of one window.
fn window_sum<P: SWCurveConfig>(
    bases: &[Affine<P>],
    negated: &[bool],
    digits: &[i16],
    c: usize,
) -> Projective<P> {
    let mut w = Window::<P>::new(1 << (c - 1));
    for ((base, d), neg) in bases.iter().zip(digits).zip(negated) {
        if *d == 0 || base.is_zero() {
            continue;
        }
        let q = if (*d < 0) != *neg { -*base } else { *base };
        w.schedule((d.unsigned_abs() - 1) as usize, q);
    }
    w.add_batch();
    let mut running = Projective::<P>::zero();
    let mut sum = Projective::<P>::zero();
    for (b, spill) in w.buckets.iter().zip(&w.spill).rev() {
        running += b;
        if !spill.is_zero() {
            running += spill;
        }
        sum += running;
    }
    sum
}

/// One window's buckets and the additions under way.
struct Window<P: SWCurveConfig> {
    buckets: Vec<Affine<P>>,
    /// Points that came to a bucket already in the batch, added to it in
    /// projective form (as ark-ec adds every point): many scalars sharing a
    /// digit cost no more than there.
    spill: Vec<Projective<P>>,
    /// Whether a bucket has an addition in the current batch.
    busy: Vec<bool>,
    batch: Vec<(usize, Affine<P>)>,
    denominators: Vec<P::BaseField>,
    /// Running products of the denominators (Montgomery's trick).
    prefix: Vec<P::BaseField>,
    /// Per addition of the batch: 0 done already, 1 an addition, 2 a
    /// doubling.
    kinds: Vec<u8>,
}

impl<P: SWCurveConfig> Window<P> {
    fn new(buckets: usize) -> Self {
        Window {
            buckets: vec![Affine::identity(); buckets],
            spill: vec![Projective::zero(); buckets],
            busy: vec![false; buckets],
            batch: Vec::with_capacity(BATCH),
            denominators: Vec::with_capacity(BATCH),
            prefix: Vec::with_capacity(BATCH),
            kinds: Vec::with_capacity(BATCH),
        }
    }

    fn schedule(&mut self, b: usize, q: Affine<P>) {
        if self.busy[b] {
            self.spill[b] += q;
            return;
        }
        self.busy[b] = true;
        self.batch.push((b, q));
        if self.batch.len() == BATCH {
            self.add_batch();
        }
    }

    /// Adds each `(bucket, point)` of the batch (distinct buckets) with
    /// one inversion, and empties it.
    fn add_batch(&mut self) {
        self.denominators.clear();
        self.kinds.clear();
        for (b, q) in &self.batch {
            let p = &mut self.buckets[*b];
            let (kind, den) = if p.is_zero() {
                *p = *q;
                (0, P::BaseField::ONE)
            } else if p.x != q.x {
                (1, q.x - p.x)
            } else if p.y == q.y && !p.y.is_zero() {
                (2, p.y.double())
            } else {
                // P + (-P), or a point of order two doubled.
                *p = Affine::identity();
                (0, P::BaseField::ONE)
            };
            self.kinds.push(kind);
            self.denominators.push(den);
        }
        invert_all(&mut self.denominators, &mut self.prefix);
        for (((b, q), inv), kind) in self.batch.iter().zip(&self.denominators).zip(&self.kinds) {
            self.busy[*b] = false;
            let p = &mut self.buckets[*b];
            let lambda = match kind {
                1 => (q.y - p.y) * inv,
                2 => {
                    let xx = p.x.square();
                    (xx.double() + xx + P::COEFF_A) * inv
                }
                _ => continue,
            };
            let x3 = lambda.square() - p.x - q.x;
            let y3 = lambda * (p.x - x3) - p.y;
            *p = Affine::new_unchecked(x3, y3);
        }
        self.batch.clear();
    }
}

/// Replaces each value (all non-zero) by its inverse with one inversion,
/// serially (a batch is one task's), using `prefix` as scratch space.
fn invert_all<F: Field>(v: &mut [F], prefix: &mut Vec<F>) {
    prefix.clear();
    let mut acc = F::ONE;
    for x in v.iter() {
        prefix.push(acc);
        acc *= x;
    }
    let Some(mut inv) = acc.inverse() else {
        return;
    };
    for (x, before) in v.iter_mut().zip(prefix.iter()).rev() {
        let next = inv * *x;
        *x = inv * before;
        inv = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::{Fr, G1Affine, G1Projective, G2Affine, G2Projective};
    use ark_ec::{CurveGroup, VariableBaseMSM};
    use ark_ff::UniformRand;
    use rand::{Rng, SeedableRng};

    fn check<P: SWCurveConfig<ScalarField = Fr>>(bases: &[Affine<P>], scalars: &[Fr])
    where
        Projective<P>: VariableBaseMSM<MulBase = Affine<P>, ScalarField = Fr>,
    {
        let big: Vec<_> = scalars.iter().map(|s| s.into_bigint()).collect();
        let want = <Projective<P> as VariableBaseMSM>::msm_bigint(bases, &big);
        assert_eq!(
            msm(bases, &big).into_affine(),
            want.into_affine(),
            "{} points",
            bases.len()
        );
    }

    /// `2^bits - 1`.
    fn top_of(bits: usize) -> ark_ff::BigInteger256 {
        let mut v = ark_ff::BigInteger256::from(0u64);
        for i in 0..bits {
            v.0[i / 64] |= 1 << (i % 64);
        }
        v
    }

    #[test]
    fn signed_digits_give_back_every_scalar_at_every_window_width() {
        use ark_ff::BigInteger256;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
        let mut scalars: Vec<BigInteger256> =
            (0..50).map(|_| Fr::rand(&mut rng).into_bigint()).collect();
        let mut top = Fr::MODULUS;
        top.sub_with_borrow(&BigInteger256::from(1u64));
        scalars.extend([
            BigInteger256::from(0u64),
            BigInteger256::from(u64::MAX),
            top,
        ]);
        for c in 4..=MAX_WINDOW {
            let windows = window_count(254, c);
            let digits = signed_digits(&scalars, c, windows);
            for (i, s) in scalars.iter().enumerate() {
                let mut back = Fr::from(0u64);
                for w in (0..windows).rev() {
                    let d = digits[w * scalars.len() + i];
                    assert!(d.unsigned_abs() <= 1 << (c - 1), "c = {c}");
                    back = back * Fr::from(1u64 << c) + Fr::from(d as i64);
                }
                assert_eq!(back.into_bigint(), *s, "c = {c}");
            }
        }
        // Scalars whose length is a multiple of the window take the carry
        // window; shorter ones do not need it.
        for c in 4..=MAX_WINDOW {
            let bits = 253 / c * c;
            let ones = top_of(bits);
            let mut high = BigInteger256::from(0u64);
            high.0[(bits - 1) / 64] |= 1 << ((bits - 1) % 64);
            high.0[0] |= 1 << (c - 1);
            for (bits, s) in [(bits, ones), (bits, high), (bits - 1, top_of(bits - 1))] {
                let windows = window_count(bits, c);
                assert_eq!(windows, bits.div_ceil(c) + usize::from(bits % c == 0));
                let digits = signed_digits(&[s], c, windows);
                let mut back = Fr::from(0u64);
                for d in digits.iter().rev() {
                    assert!(d.unsigned_abs() <= 1 << (c - 1), "c = {c}");
                    back = back * Fr::from(1u64 << c) + Fr::from(*d as i64);
                }
                assert_eq!(back.into_bigint(), s, "c = {c}, {bits} bits");
            }
        }
        // The widest window is chosen for the largest domains.
        assert_eq!(window_bits(1 << 24, 254), MAX_WINDOW);
    }

    #[test]
    fn sums_equal_ark_ecs_msm_with_repeated_opposite_and_missing_points() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(8);
        for n in [0usize, 1, 2, 7, 300, 5000] {
            let mut bases: Vec<G1Affine> = (0..n)
                .map(|_| G1Projective::rand(&mut rng).into_affine())
                .collect();
            let mut scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut rng)).collect();
            if n >= 7 {
                // The same point with the same scalar (doublings in a
                // bucket), its opposite, the identity, zero and small and
                // negative scalars.
                bases[1] = bases[0];
                scalars[1] = scalars[0];
                bases[2] = -bases[0];
                scalars[2] = scalars[0];
                bases[3] = G1Affine::identity();
                scalars[4] = Fr::from(0u64);
                scalars[5] = Fr::from(3u64);
                scalars[6] = -Fr::from(1u64);
            }
            if n == 5000 {
                // Many equal points: every bucket sees repeats.
                for i in 100..1100 {
                    bases[i] = bases[99];
                }
                // Small negative and equal scalars: one digit shared by
                // many points in every window.
                for (i, s) in scalars.iter_mut().enumerate().skip(2000).take(2000) {
                    *s = if i % 2 == 0 {
                        -Fr::from(i as u64)
                    } else {
                        Fr::from(7u64)
                    };
                }
            }
            check(&bases, &scalars);
            // Short scalars (a random linear combination's 128 bits, or
            // all tiny) take fewer windows and give the same sum.
            let short: Vec<Fr> = (0..n)
                .map(|i| Fr::from(rng.gen::<u128>() >> (i % 3 * 60)))
                .collect();
            check(&bases, &short);
        }
        let bases: Vec<G2Affine> = (0..200)
            .map(|_| G2Projective::rand(&mut rng).into_affine())
            .collect();
        let scalars: Vec<Fr> = (0..200).map(|_| Fr::rand(&mut rng)).collect();
        check(&bases, &scalars);
    }
}
