import { x80ToInt } from './convert.js';
import { add, mul, sub } from './arith.js';
import { DEFAULT_NAN, expOf, isInvalidEncoding, isNaN80, isSignalingNaN80, isZero80, packX80, QUIET_BIT, signOf, sigOf } from './floatx80.js';
import { scalbn } from './remainder.js';
import { FloatStatus, IE, PE, Rounding } from './status.js';
import { M128, mul128By64Top, normalizeRoundPack, normalizeSubnormal, shiftRightJam128 } from './wide.js';
import type { X87 } from './x87-state.js';

/**
 * F2XM1 as QEMU 7.2 computes it (target/i386/tcg/fpu_helper.c, helper_f2xm1): 2^x − 1 from a
 * table of 2^t at multiples of 1/32 and a degree-8 polynomial, assembled in 128-bit fixed point.
 * Reproduced step by step, because its last bit depends on the algorithm (including QEMU's
 * quirk of returning t, not 2^t − 1, when x is exactly a table point t).
 */

const LN2 = 0xb17217f7d1cf79abc9e3b39803f2f6afn; // log(2), 128-bit significand
const x = (e: number, s: bigint) => packX80(e >> 15, e, s);

const COEFF_0 = x(0x3ffe, 0xb17217f7d1cf79acn);
const COEFF_0_LOW = x(0xbfbc, 0xd87edabf495b3762n);
const COEFFS = [
  x(0x3ffc, 0xf5fdeffc162c7543n), x(0x3ffa, 0xe35846b82505fcc7n), x(0x3ff8, 0x9d955b7dd273b899n),
  x(0x3ff5, 0xaec3ff3c4ef4ac0cn), x(0x3ff2, 0xa184897c3a7f0de9n), x(0x3fee, 0xffe634d0ec30d504n),
  x(0x3feb, 0xb160111d2db515e4n),
]; // coefficients 1..7

/** [t, 2^t, 2^t − 1] for t ≈ (n − 32)/32, n = 0..64. */
const TABLE: ReadonlyArray<readonly [bigint, bigint, bigint]> = ([
  [0xbfff, 0x8000000000000000n, 0x3ffe, 0x8000000000000000n, 0xbffe, 0x8000000000000000n],
  [0xbffe, 0xf800000000002e7en, 0x3ffe, 0x82cd8698ac2b9160n, 0xbffd, 0xfa64f2cea7a8dd40n],
  [0xbffe, 0xefffffffffffe960n, 0x3ffe, 0x85aac367cc488345n, 0xbffd, 0xf4aa7930676ef976n],
  [0xbffe, 0xe800000000006f10n, 0x3ffe, 0x88980e8092da5c14n, 0xbffd, 0xeecfe2feda4b47d8n],
  [0xbffe, 0xe000000000008a45n, 0x3ffe, 0x8b95c1e3ea8ba2a5n, 0xbffd, 0xe8d47c382ae8bab6n],
  [0xbffe, 0xd7ffffffffff8a9en, 0x3ffe, 0x8ea4398b45cd8116n, 0xbffd, 0xe2b78ce97464fdd4n],
  [0xbffe, 0xd0000000000019a0n, 0x3ffe, 0x91c3d373ab11b919n, 0xbffd, 0xdc785918a9dc8dcen],
  [0xbffe, 0xc7ffffffffff14dfn, 0x3ffe, 0x94f4efa8fef76836n, 0xbffd, 0xd61620ae02112f94n],
  [0xbffe, 0xc000000000006530n, 0x3ffe, 0x9837f0518db87fbbn, 0xbffd, 0xcf901f5ce48f008an],
  [0xbffe, 0xb7ffffffffff1723n, 0x3ffe, 0x9b8d39b9d54eb74cn, 0xbffd, 0xc8e58c8c55629168n],
  [0xbffe, 0xb00000000000b5e1n, 0x3ffe, 0x9ef5326091a0c366n, 0xbffd, 0xc2159b3edcbe7934n],
  [0xbffe, 0xa800000000006f8an, 0x3ffe, 0xa27043030c49370an, 0xbffd, 0xbb1f79f9e76d91ecn],
  [0xbffe, 0x9fffffffffff816an, 0x3ffe, 0xa5fed6a9b15171cfn, 0xbffd, 0xb40252ac9d5d1c62n],
  [0xbffe, 0x97ffffffffffb621n, 0x3ffe, 0xa9a15ab4ea7c30e6n, 0xbffd, 0xacbd4a962b079e34n],
  [0xbffe, 0x8fffffffffff162bn, 0x3ffe, 0xad583eea42a1b886n, 0xbffd, 0xa54f822b7abc8ef4n],
  [0xbffe, 0x87ffffffffff4d34n, 0x3ffe, 0xb123f581d2ac7b51n, 0xbffd, 0x9db814fc5aa7095en],
  [0xbffe, 0x800000000000227dn, 0x3ffe, 0xb504f333f9de539dn, 0xbffd, 0x95f619980c4358c6n],
  [0xbffd, 0xefffffffffff3978n, 0x3ffe, 0xb8fbaf4762fbd0a1n, 0xbffd, 0x8e08a1713a085eben],
  [0xbffd, 0xe00000000000df81n, 0x3ffe, 0xbd08a39f580bfd8cn, 0xbffd, 0x85eeb8c14fe804e8n],
  [0xbffd, 0xd00000000000bccfn, 0x3ffe, 0xc12c4cca667062f6n, 0xbffc, 0xfb4eccd6663e7428n],
  [0xbffd, 0xc00000000000eff0n, 0x3ffe, 0xc5672a1155069aben, 0xbffc, 0xea6357baabe59508n],
  [0xbffd, 0xb000000000000fe6n, 0x3ffe, 0xc9b9bd866e2f234bn, 0xbffc, 0xd91909e6474372d4n],
  [0xbffd, 0x9fffffffffff2172n, 0x3ffe, 0xce248c151f84bf00n, 0xbffc, 0xc76dcfab81ed0400n],
  [0xbffd, 0x8fffffffffffafffn, 0x3ffe, 0xd2a81d91f12afb2bn, 0xbffc, 0xb55f89b83b541354n],
  [0xbffc, 0xffffffffffff81a3n, 0x3ffe, 0xd744fccad69d7d5en, 0xbffc, 0xa2ec0cd4a58a0a88n],
  [0xbffc, 0xdfffffffffff1568n, 0x3ffe, 0xdbfbb797daf25a44n, 0xbffc, 0x901121a0943696f0n],
  [0xbffc, 0xbfffffffffff68dan, 0x3ffe, 0xe0ccdeec2a94f811n, 0xbffb, 0xf999089eab583f78n],
  [0xbffc, 0x9fffffffffff4690n, 0x3ffe, 0xe5b906e77c83657en, 0xbffb, 0xd237c8c41be4d410n],
  [0xbffb, 0xffffffffffff8aeen, 0x3ffe, 0xeac0c6e7dd24427cn, 0xbffb, 0xa9f9c8c116ddec20n],
  [0xbffb, 0xbfffffffffff2d18n, 0x3ffe, 0xefe4b99bdcdb06ebn, 0xbffb, 0x80da33211927c8a8n],
  [0xbffa, 0xffffffffffff8ccbn, 0x3ffe, 0xf5257d152486d0f4n, 0xbffa, 0xada82eadb792f0c0n],
  [0xbff9, 0xffffffffffff11fen, 0x3ffe, 0xfa83b2db722a0846n, 0xbff9, 0xaf89a491babef740n],
  [0x0000, 0x0000000000000000n, 0x3fff, 0x8000000000000000n, 0x0000, 0x0000000000000000n],
  [0x3ff9, 0xffffffffffff2680n, 0x3fff, 0x82cd8698ac2b9f6fn, 0x3ff9, 0xb361a62b0ae7dbc0n],
  [0x3ffb, 0x800000000000b500n, 0x3fff, 0x85aac367cc488345n, 0x3ffa, 0xb5586cf9891068a0n],
  [0x3ffb, 0xbfffffffffff4b67n, 0x3fff, 0x88980e8092da7ccen, 0x3ffb, 0x8980e8092da7cce0n],
  [0x3ffb, 0xffffffffffffff57n, 0x3fff, 0x8b95c1e3ea8bd6dfn, 0x3ffb, 0xb95c1e3ea8bd6df0n],
  [0x3ffc, 0x9fffffffffff811fn, 0x3fff, 0x8ea4398b45cd4780n, 0x3ffb, 0xea4398b45cd47800n],
  [0x3ffc, 0xbfffffffffff9980n, 0x3fff, 0x91c3d373ab11b919n, 0x3ffc, 0x8e1e9b9d588dc8c8n],
  [0x3ffc, 0xdffffffffffff631n, 0x3fff, 0x94f4efa8fef70864n, 0x3ffc, 0xa7a77d47f7b84320n],
  [0x3ffc, 0xffffffffffff2499n, 0x3fff, 0x9837f0518db892d4n, 0x3ffc, 0xc1bf828c6dc496a0n],
  [0x3ffd, 0x8fffffffffff80fbn, 0x3fff, 0x9b8d39b9d54e3a79n, 0x3ffc, 0xdc69cdceaa71d3c8n],
  [0x3ffd, 0x9fffffffffffbc23n, 0x3fff, 0x9ef5326091a10313n, 0x3ffc, 0xf7a993048d081898n],
  [0x3ffd, 0xafffffffffff20ecn, 0x3fff, 0xa27043030c49370an, 0x3ffd, 0x89c10c0c3124dc28n],
  [0x3ffd, 0xc00000000000fd2cn, 0x3fff, 0xa5fed6a9b15171cfn, 0x3ffd, 0x97fb5aa6c545c73cn],
  [0x3ffd, 0xd0000000000093ben, 0x3fff, 0xa9a15ab4ea7c30e6n, 0x3ffd, 0xa6856ad3a9f0c398n],
  [0x3ffd, 0xe00000000000c2aen, 0x3fff, 0xad583eea42a17876n, 0x3ffd, 0xb560fba90a85e1d8n],
  [0x3ffd, 0xefffffffffff1e3fn, 0x3fff, 0xb123f581d2abef6cn, 0x3ffd, 0xc48fd6074aafbdb0n],
  [0x3ffd, 0xffffffffffff1c23n, 0x3fff, 0xb504f333f9de2cadn, 0x3ffd, 0xd413cccfe778b2b4n],
  [0x3ffe, 0x8800000000006344n, 0x3fff, 0xb8fbaf4762fbd0a1n, 0x3ffd, 0xe3eebd1d8bef4284n],
  [0x3ffe, 0x9000000000005d67n, 0x3fff, 0xbd08a39f580c668dn, 0x3ffd, 0xf4228e7d60319a34n],
  [0x3ffe, 0x9800000000009127n, 0x3fff, 0xc12c4cca6670e042n, 0x3ffe, 0x82589994cce1c084n],
  [0x3ffe, 0x9fffffffffff06f9n, 0x3fff, 0xc5672a11550655c3n, 0x3ffe, 0x8ace5422aa0cab86n],
  [0x3ffe, 0xa7fffffffffff80dn, 0x3fff, 0xc9b9bd866e2f234bn, 0x3ffe, 0x93737b0cdc5e4696n],
  [0x3ffe, 0xafffffffffff1470n, 0x3fff, 0xce248c151f83fd69n, 0x3ffe, 0x9c49182a3f07fad2n],
  [0x3ffe, 0xb800000000000e0an, 0x3fff, 0xd2a81d91f12aec5cn, 0x3ffe, 0xa5503b23e255d8b8n],
  [0x3ffe, 0xc00000000000b7fan, 0x3fff, 0xd744fccad69dd630n, 0x3ffe, 0xae89f995ad3bac60n],
  [0x3ffe, 0xc800000000003aa6n, 0x3fff, 0xdbfbb797daf25a44n, 0x3ffe, 0xb7f76f2fb5e4b488n],
  [0x3ffe, 0xd00000000000a6aen, 0x3fff, 0xe0ccdeec2a954685n, 0x3ffe, 0xc199bdd8552a8d0an],
  [0x3ffe, 0xd800000000004165n, 0x3fff, 0xe5b906e77c837155n, 0x3ffe, 0xcb720dcef906e2aan],
  [0x3ffe, 0xe00000000000582cn, 0x3fff, 0xeac0c6e7dd24713an, 0x3ffe, 0xd5818dcfba48e274n],
  [0x3ffe, 0xe800000000001a5dn, 0x3fff, 0xefe4b99bdcdb06ebn, 0x3ffe, 0xdfc97337b9b60dd6n],
  [0x3ffe, 0xefffffffffffc1efn, 0x3fff, 0xf5257d152486a2fan, 0x3ffe, 0xea4afa2a490d45f4n],
  [0x3ffe, 0xf800000000001069n, 0x3fff, 0xfa83b2db722a0e5cn, 0x3ffe, 0xf50765b6e4541cb8n],
  [0x3fff, 0x8000000000000000n, 0x4000, 0x8000000000000000n, 0x3fff, 0x8000000000000000n],
] as const).map(([te, ts, ee, es, me, ms]) => [x(te, ts), x(ee, es), x(me, ms)] as const);

export function f2xm1(f: X87): void {
  const st = f.status();
  const v = f.st(0);
  let exp = expOf(v);
  let sig = sigOf(v);
  const sign = signOf(v);
  if (isInvalidEncoding(v)) {
    st.raise(IE);
    f.setSt(0, DEFAULT_NAN);
  } else if (isNaN80(v)) {
    if (isSignalingNaN80(v)) {
      st.raise(IE);
      f.setSt(0, v | QUIET_BIT);
    }
  } else if (exp > 0x3fff || (exp === 0x3fff && sig !== 1n << 63n)) {
    st.raise(IE);
    f.setSt(0, DEFAULT_NAN);
  } else if (exp === 0x3fff) {
    if (sign) f.setSt(0, x(0xbffe, 1n << 63n));
  } else if (exp < 0x3fb0) {
    if (!isZero80(v)) {
      if (exp === 0) [exp, sig] = normalizeSubnormal(sig);
      const product = mul128By64Top(LN2, sig) | 1n;
      f.setSt(0, normalizeRoundPack(sign, exp, product, st));
    }
  } else {
    const inner = new FloatStatus(Rounding.Nearest, 64);
    const tmp = scalbn(v, 5, inner);
    const n = 32 + Number(x80ToInt(tmp, 32, Rounding.Nearest, inner) ?? 0n);
    const [t, exp2, exp2m1] = TABLE[n]!;
    const y = sub(v, t, inner);
    if (isZero80(y)) {
      f.setSt(0, t);
      inner.flags = PE;
    } else {
      let accum = mul(COEFFS[6]!, y, inner);
      for (let k = 5; k >= 0; k--) accum = mul(add(COEFFS[k]!, accum, inner), y, inner);
      accum = add(COEFF_0_LOW, accum, inner);
      let aexp = expOf(COEFF_0);
      let asign = signOf(COEFF_0);
      let a = shiftRightJam128(sigOf(accum) << 64n, aexp - expOf(accum));
      const b0 = sigOf(COEFF_0) << 64n;
      a = (asign === signOf(accum) ? b0 + a : b0 - a) & M128;
      a = mul128By64Top(a, sigOf(y));
      aexp += expOf(y) - 0x3ffe;
      asign ^= signOf(y);
      if (n !== 32) {
        a = mul128By64Top(a, sigOf(exp2));
        aexp += expOf(exp2) - 0x3ffe;
        const bexp = expOf(exp2m1);
        let b = sigOf(exp2m1) << 64n;
        if (bexp < aexp) b = shiftRightJam128(b, aexp - bexp);
        else if (aexp < bexp) {
          a = shiftRightJam128(a, bexp - aexp);
          aexp = bexp;
        }
        const bsign = signOf(exp2m1);
        if (asign === bsign) {
          a = shiftRightJam128(a, 1);
          b = shiftRightJam128(b, 1);
          aexp++;
          a = (a + b) & M128;
        } else {
          a = (b - a) & M128;
          asign = bsign;
        }
      }
      f.setSt(0, normalizeRoundPack(asign, aexp, a | 1n, st));
    }
    st.raise(inner.flags);
  }
  f.raise(st.flags);
}
