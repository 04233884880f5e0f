//! Membership in BN254's G2 (the order-r subgroup of the twist), twice as
//! fast as a multiplication by `6 x^2`: with `psi` the
//! untwist-Frobenius-twist endomorphism and `x` the curve's 63-bit seed, a
//! point P of the twist is in G2 exactly when
//! `[x + 1] P + psi([x] P) + psi^2([x] P) = psi^3([2 x] P)`
//! (Scott 2021, ePrint 2021/1130; El Housni, Guillevic, Piellard 2022,
//! ePrint 2022/352). One 63-bit multiplication and a few Frobenius maps per
//! point, which is what reading a key's G2 points costs.

use ark_bn254::{Fq2, G2Affine, G2Projective};
use ark_ec::AffineRepr;
use ark_ff::{Field, MontFp};

/// BN254's seed `x`.
const SEED: u64 = 4965661367192848881;

/// `psi`'s factor on x: `(u + 9)^((p - 1) / 3)`.
const PSI_X: Fq2 = Fq2::new(
    MontFp!("21575463638280843010398324269430826099269044274347216827212613867836435027261"),
    MontFp!("10307601595873709700152284273816112264069230130616436755625194854815875713954"),
);

/// `psi`'s factor on y: `(u + 9)^((p - 1) / 2)`.
const PSI_Y: Fq2 = Fq2::new(
    MontFp!("2821565182194536844548159561693502659359617185244120367078079554186484126554"),
    MontFp!("3505843767911556378687030309984248845540243509899259641013678093033130930403"),
);

/// `psi` on Jacobian coordinates: the Frobenius of each (it commutes with
/// the division by `z`), then x and y times their factors.
fn psi(p: &G2Projective) -> G2Projective {
    let mut q = *p;
    q.x.frobenius_map_in_place(1);
    q.y.frobenius_map_in_place(1);
    q.z.frobenius_map_in_place(1);
    q.x *= PSI_X;
    q.y *= PSI_Y;
    q
}

/// Rounds of [`all_in_group`]: each lets a point outside G2 through with
/// probability at most `1/10069 + 2^-16` (below `2^-13`), so twelve leave
/// less than `2^-150`.
const ROUNDS: usize = 12;

/// Whether every point of `points`, each on the twist, is in G2, checked on
/// random combinations: the twist's group is `G2 x E'[h]` with `h =
/// 10069 * 5864401 * 1875725156269 * (a 177-bit prime)` squarefree, so a
/// point outside G2 has a non-zero component of some prime order `q | h`,
/// and a sum with independent uniform 16-bit weights has a zero
/// `q`-component for at most one weight of that point modulo `q`:
/// probability at most `1/q + 2^-16` per round. [`ROUNDS`] rounds, each one
/// short multi-scalar multiplication and one [`in_group`] test, replace a
/// 63-bit multiplication per point.
pub(crate) fn all_in_group<R: rand::RngCore>(points: &[G2Affine], rng: &mut R) -> bool {
    use ark_ff::PrimeField;
    if points.len() < 2 * ROUNDS {
        return points.iter().all(in_group);
    }
    (0..ROUNDS).all(|_| {
        let weights: Vec<_> = (0..points.len())
            .map(|_| ark_bn254::Fr::from(rng.next_u32() as u16).into_bigint())
            .collect();
        let sum = crate::compiled::bucket::msm::<ark_bn254::g2::Config>(points, &weights);
        in_group(&ark_ec::CurveGroup::into_affine(sum))
    })
}

/// Whether `p`, a point on the twist, is in G2.
pub(crate) fn in_group(p: &G2Affine) -> bool {
    if p.is_zero() {
        return true;
    }
    let xp: G2Projective = p.mul_bigint([SEED]);
    let lhs = xp + p + psi(&xp) + psi(&psi(&xp));
    let rhs = psi(&psi(&psi(&(xp + xp))));
    lhs == rhs
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_bn254::g2;
    use ark_ec::short_weierstrass::SWCurveConfig;
    use ark_ec::CurveGroup;
    use ark_ff::UniformRand;
    use rand::SeedableRng;

    /// A random point of the twist, in G2 or not (no cofactor cleared).
    fn on_the_twist(rng: &mut impl rand::Rng) -> G2Affine {
        loop {
            let x = Fq2::rand(rng);
            if let Some(y) = (x * x * x + g2::Config::COEFF_B).sqrt() {
                let p = G2Affine::new_unchecked(x, y);
                assert!(p.is_on_curve());
                return p;
            }
        }
    }

    #[test]
    fn agrees_with_the_multiplication_by_the_group_order() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let r = <ark_bn254::Fr as ark_ff::PrimeField>::MODULUS;
        let mut outside = 0;
        for _ in 0..200 {
            let p = on_the_twist(&mut rng);
            let want = p.mul_bigint(r).into_affine().is_zero();
            assert_eq!(in_group(&p), want);
            outside += usize::from(!want);
            // The cofactor cleared: in G2.
            let q = p.clear_cofactor();
            assert!(in_group(&q) && q.is_in_correct_subgroup_assuming_on_curve());
            // A point of G2 plus one outside: outside.
            if !want {
                assert!(!in_group(&(q + p).into_affine()));
            }
        }
        assert!(
            outside > 190,
            "random points of the twist are almost never in G2"
        );
        assert!(in_group(&G2Affine::generator()));
        assert!(in_group(&G2Affine::identity()));
        let g = G2Projective::rand(&mut rng).into_affine();
        assert!(in_group(&g));
    }

    /// A point of order `q`, a prime factor of the twist's cofactor.
    fn of_order(q: u64, rng: &mut impl rand::Rng) -> G2Affine {
        use ark_ff::{BigInteger, PrimeField};
        let h = num_bigint::BigUint::parse_bytes(
            b"21888242871839275222246405745257275088844257914179612981679871602714643921549",
            10,
        )
        .unwrap();
        let r = num_bigint::BigUint::from_bytes_le(&ark_bn254::Fr::MODULUS.to_bytes_le());
        let k = (h / q) * r;
        loop {
            let t = on_the_twist(rng)
                .mul_bigint(k.to_u64_digits())
                .into_affine();
            if !t.is_zero() {
                assert!(t.mul_bigint([q]).into_affine().is_zero());
                return t;
            }
        }
    }

    #[test]
    fn a_batch_with_one_point_outside_g2_is_refused_whatever_cancels() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(6);
        let good: Vec<G2Affine> = (0..100)
            .map(|_| G2Projective::rand(&mut rng).into_affine())
            .collect();
        assert!(all_in_group(&good, &mut rng));
        // Components of the cofactor's smallest prime order (10069) and of
        // the others, alone and in pairs that cancel in a plain sum.
        for q in [10069u64, 5864401, 1875725156269] {
            let t = of_order(q, &mut rng);
            let mut one = good.clone();
            one[7] = (one[7] + t).into_affine();
            assert!(!all_in_group(&one, &mut rng), "order {q}");
            let mut pair = good.clone();
            pair[3] = (pair[3] + t).into_affine();
            pair[60] = (pair[60] - t).into_affine();
            assert!(!all_in_group(&pair, &mut rng), "order {q}, cancelling");
        }
        // Random points of the twist (every component).
        let mut random = good.clone();
        random[99] = on_the_twist(&mut rng);
        assert!(!all_in_group(&random, &mut rng));
        // Few points are checked one by one.
        assert!(!all_in_group(&random[95..], &mut rng));
    }
}
