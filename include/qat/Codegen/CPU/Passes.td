//===- Passes.td - CPU code generation ---------------------*- tablegen -*-===//
//
// Part of qat-mlir.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_CODEGEN_CPU_PASSES_TD
#define QAT_CODEGEN_CPU_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Convolutions as GEMMs
//===----------------------------------------------------------------------===//

def ConvToMmt4dPass : Pass<"qat-conv-to-mmt4d"> {
  let summary = "f32 convolutions and their gradients as data-tiled GEMMs";
  let description = [{
    Rewrites every f32 `linalg` op on tensors that is a 2-D convolution in
    NCHW/FCHW layout, in any of its three roles, as a GEMM on
    `--qat-lower-mmt4d`'s f32 tiles (`linalg.pack` → `linalg.mmt4d` →
    `linalg.unpack`). The roles are told apart by which operand the op
    accumulates into; all three share the loops
    `(n, f, oh, ow, c, kh, kw)` and the maps

    ```
    image[n, c, oh*s + kh*d, ow*s + kw*d]   filter[f, c, kh, kw]   output[n, f, oh, ow]
    ```

    so the forward `linalg.conv_2d_nchw_fchw` and the two contractions that
    `--qat-generate-backward` derives from it are all found by their maps:

    - into the output (the convolution):
      `output += (im2col(image) . filter^T)^T`, M = N*OH*OW, K = C*KH*KW;
    - into the filter (weight gradient):
      `filter += g^T . im2col(image)`, M = F, K = N*OH*OW;
    - into the image (input gradient): `cols = filter^T . g` in a
      transposed im2col layout `(c, kh, kw) x (n, oh, ow)`, K = F, then
      summed back onto the overlapping pixels (col2im) along rows of `ow`,
      each pixel's terms in `(kh, kw)` order.

    Any stride and dilation; padding is the producer's `tensor.pad`. Every
    product sums its K terms in order with fused multiply-adds, so results
    differ from the loop nest's by rounding only, and do not depend on the
    number of threads. Grouped convolutions are left alone.

    With `leave-direct`, the convolutions that `--qat-lower-direct-conv`
    computes without im2col (stride 1, no dilation, 2 to 9 taps, rows of
    12 to 16 elements) stay as they are.
  }];
  let options = [
    Option<"leaveDirect", "leave-direct", "bool", "false",
           "Leave the convolutions that --qat-lower-direct-conv handles">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def Int8ConvToMmt4dPass : Pass<"qat-int8-conv-to-mmt4d"> {
  let summary = "int8 convolutions with constant weights as data-tiled GEMMs";
  let description = [{
    For deployment (`qat-compile` runs it when the target has a dot-product
    microkernel): every `linalg.conv_2d_nchw_fchw` of an integer program
    (`--qat-fold-quant`) whose input is `codes - z` with 8-bit codes and
    whose filter is a constant of 8-bit values becomes

    ```
    a   = i8(codes - o)       o = 128 for codes in [0, 255], 0 for [-128, 127]
    A   = im2col(a)           (N*OH*OW) x (C*KH*KW), i8
    acc = unpack(mmt4d(pack(A), W packed at compile time)) + (o - z) * colsum(W)
    ```

    transposed back to `N x F x OH x OW`: the same integers (the constant
    term restores the zero-point), computed by the `--qat-lower-mmt4d`
    microkernel of `isa` in its tiles: `8 x 4` LHS and `16 x 4` RHS tiles
    of bytes for avx512vnni, `8 x 4` and `8 x 4` for avxvnni, `8 x 4` and
    `4 x 4` for dotprod, and for avx2 (`vpmaddwd`) `6 x 2` LHS tiles of
    16-bit values, where `a` holds the codes themselves (`o = 0`), and
    `8 x 2` RHS tiles of bytes. Without `isa`, the tiles are `8 x 4` and
    `lanes x 4`.

    For avx2 (with `proven-pairs`), a layer whose weights are proven not to
    saturate AVX2's `vpmaddubsw` goes on that faster kernel instead: `4 x 4`
    LHS and `8 x 4` RHS tiles of bytes as for avx512vnni, the product
    marked `qat.pairs_proven_unsaturated`. The kernel multiplies the
    unsigned `u = a + 128` (the codes, for an unsigned grid) by the signed
    weights in pairs summed into a saturating i16; for each pair `(w0, w1)`
    of the packed weights (positions `(0, 1)` and `(2, 3)` of every group of
    4 along K) and every `u0, u1` in the codes' range `[lo, hi]` (from the
    producing `qat.requantize` or `qat.quantize`), `u0 * w0 + u1 * w1` must
    lie in `[-32768, 32767]`: with `hi <= 127` (`qat-train
    --qconfig-activations=uint7`) every pair passes; with 8-bit codes only
    small weights do. Where one pair fails the layer stays on the exact
    `vpmaddwd` kernel. `report` says which, per layer, with the failing
    pair.
  }];
  let options = [
    Option<"isa", "isa", "std::string", "\"\"",
           "The --qat-lower-mmt4d microkernel to pack for: avx512vnni, "
           "avxvnni, avx2 or dotprod (sets the tiles; overrides lanes)">,
    Option<"lanes", "lanes", "int64_t", "16",
           "i32 lanes of the target's dot-product instruction (without isa)">,
    Option<"provenPairs", "proven-pairs", "bool", "true",
           "Put layers whose weights provably cannot saturate on the isa's "
           "faster saturating kernel (avx2: vpmaddubsw)">,
    Option<"report", "report", "bool", "false",
           "A remark per convolution: which kernel, and why">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::tosa::TosaDialect",
  ];
}

//===----------------------------------------------------------------------===//
// Fusion and the accumulators' fills
//===----------------------------------------------------------------------===//

def FuseElementwisePass : Pass<"qat-fuse-elementwise"> {
  let summary = "Fuse elementwise linalg chains without recomputing broadcasts";
  let description = [{
    Upstream's elementwise fusion (`linalg-fuse-elementwise-ops`: producers
    with one use are fused into their consumers, reshapes propagated by
    expansion, constants folded) with one rule more: a producer that is
    read through a broadcast (a consumer indexing map that is not a
    permutation: the producer has fewer points than the consumer) is fused
    only when its body computes nothing (a plain copy). Otherwise its
    computation would run once per consumer point: batch norm's
    `rsqrt(var + eps)`, computed per channel, became an `rsqrt` per
    activation element, 2% of a MobileNetV2 training step for one layer.

    A producer with several users is fused too, into an all-parallel
    consumer that reads it point for point, when every other user comes
    after that consumer: the fused op keeps the producer's results for
    them. It writes what both ops wrote and no longer reads the producer's
    result back. Batch norm's normalized input (kept for the gradient), its
    scaled output (kept for ReLU's mask) and the ReLU become one pass
    instead of three. Not when the consumer has one use by a generic, a
    reduction or a reshape (it is fused there itself and never written: the
    square that the variance sums), nor for a producer that reads its
    destination or changes layout (a transpose stays one op for
    `--qat-vectorize-transposes`).

    A `linalg.transpose` of outer dimensions (the innermost one stays, so
    rows stay contiguous) whose input is an elementwise op's only result
    becomes a generic first, so that the op fuses into it and writes the
    transposed layout itself (in `--qat-lower-to-llvm`, a CSE before this
    pass has merged identical transposes of one value): batch norm's input
    gradient is written in the layout that the weight gradient's product
    reads, rather than written and copied.

    Fusion reorders no floating-point operation: results are bit-identical
    with and without it.
  }];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def FoldFillReadsPass : Pass<"qat-fold-fill-reads"> {
  let summary = "Elementwise ops read a filled destination's constant, not the fill";
  let description = [{
    A `linalg.generic` on tensors with only parallel loops and a permutation
    as its output's map reads each element of its destination once, before
    writing it. Where that destination is a `linalg.fill` of a constant, the
    body uses the constant instead of the element, and the destination
    becomes the fill's own (a `tensor.empty`); a fill left without uses
    goes. The values are the same bits (a `+0.0` accumulator added to a
    `-0.0` still gives `+0.0`), one pass over memory less: a product whose
    `--qat-fold-mmt4d-packs` accumulator moved to the unpacked layout is
    unpacked as `0.0 + x`, with no zero-filled buffer.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def DuplicateFillsPass : Pass<"qat-duplicate-fills"> {
  let summary = "Give each destination of a tensor fill its own fill";
  let description = [{
    A `linalg.fill` on tensors used as the destination (init) of several
    ops, as CSE leaves the zero-initialized accumulators of one shape, is
    cloned before each such use but the first. One-shot bufferization would
    otherwise give the fill one buffer and copy it (a serial `memcpy`)
    before every op that writes into it in place. Values do not change.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

//===----------------------------------------------------------------------===//
// Packing
//===----------------------------------------------------------------------===//

def FoldMmt4dPacksPass : Pass<"qat-fold-mmt4d-packs"> {
  let summary = "Read and write unpadded f32 mmt4d operands in place";
  let description = [{
    For every f32 `linalg.mmt4d` on tensors: an operand packed without
    padding is the pack's source reshaped and transposed
    (`tensor.expand_shape` + `linalg.transpose`, upstream's `lowerPack`);
    the product reads the reshaped source directly, its indexing map
    composed with the transpose, so no copy is made. The RHS does so only
    when its 16 lanes stay the source's contiguous dimension (a K-major
    matrix), as the microkernel loads them as one vector; the LHS is read
    one element at a time and always does. Likewise a filled accumulator
    (the products' zero) unpacked without padding becomes the same fill of
    the unpacked layout, updated in place. The product becomes a
    `linalg.generic` with mmt4d's loops `(m1, n1, k1, m0, n0, k0)` and
    body, which `--qat-lower-mmt4d` lowers with the same microkernel, so
    every output still sums its K terms in the same order.

    Why: in the small CNN's training step, packing the im2col matrix (both
    ways) and unpacking the input gradient's product took a fifth of the
    step's time, at memory bandwidth.
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

def LowerPackUnpackPass : Pass<"qat-lower-pack-unpack"> {
  let summary = "linalg.pack and linalg.unpack as pad, reshape and transpose";
  let description = [{
    Rewrites every `linalg.pack` into `tensor.pad` + `tensor.expand_shape` +
    `linalg.transpose` and every `linalg.unpack` into `linalg.transpose` +
    `tensor.collapse_shape` + `tensor.extract_slice` (upstream's
    `lowerPack`/`lowerUnPack`), which bufferize and lower to loops; an
    unpack into a fresh `tensor.empty` yields the unpacked slice itself
    rather than a copy of it into that tensor, and a transpose that moves
    only dimensions of size 1 (a single tile along a dimension) becomes the
    reshape it is, with no copy. Packing
    is how int8 matrix products reach the data-tiled `linalg.mmt4d` form
    that `--qat-lower-mmt4d` turns into dot-product microkernels.
  }];
  let dependentDialects = [
    "::mlir::linalg::LinalgDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

//===----------------------------------------------------------------------===//
// Parallelization
//===----------------------------------------------------------------------===//

def ParallelizeKernelsPass : Pass<"qat-parallelize-kernels"> {
  let summary = "Split each linalg op over threads with scf.forall";
  let description = [{
    Tiles every `linalg` op on tensors whose iteration space is large enough
    (at least `min-iterations` points) along its outermost parallel loop
    into `threads` tiles of an `scf.forall`, which the pipeline turns into
    an OpenMP parallel loop (`scf-forall-to-parallel`,
    `convert-scf-to-openmp`). Only that one level is parallel, and
    reductions stay whole inside each tile, so results do not depend on the
    number of threads: every element is computed by the same sequence of
    operations.

    A `tensor.pad` of a constant that large (a convolution's input, a
    GEMM operand padded to whole tiles) first becomes a `linalg.fill` of
    the padded tensor and a `linalg.copy` into its interior, which are
    then split like the rest; bufferized whole, it would fill and copy on
    one thread.
  }];
  let options = [
    Option<"threads", "threads", "unsigned", "2", "Tiles per op">,
    Option<"minIterations", "min-iterations", "int64_t", "4096",
           "Smaller ops stay sequential">
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

//===----------------------------------------------------------------------===//
// Microkernels
//===----------------------------------------------------------------------===//

def LowerMmt4dPass : Pass<"qat-lower-mmt4d"> {
  let summary = "linalg.mmt4d on buffers as register-blocked microkernels";
  let description = [{
    Replaces every `linalg.mmt4d` on buffers with `i8` operands (an `i16`
    LHS for avx2) and an `i32` accumulator whose inner tiles fit the
    instruction set by a register-blocked microkernel. For the dot-product
    instructions LHS tiles are `M0 x 4`, RHS tiles `L x 4` with `L`
    the instruction's i32 lanes (one vector: lane `n` holds `rhs[n][0..3]`,
    the dot instructions' layout), accumulator tiles `M0 x L`. For each LHS
    panel and RHS panel (two at a time where registers allow) the `M0` rows
    accumulate in registers: per step of 4 along K, one RHS vector load and
    per row a 4-byte broadcast and one dot instruction.

    - `isa=avx512vnni`: `L = 16`, `vpdpbusd` on zmm
      (`llvm.x86.avx512.vpdpbusd.512`), two RHS panels;
    - `isa=avxvnni`: `L = 8`, the VEX `vpdpbusd` on ymm
      (`llvm.x86.avx512.vpdpbusd.256`, which LLVM encodes as VEX for a
      target with AVX-VNNI and no AVX512-VL: client Intel chips), one panel;
    - `isa=dotprod`: `L = 4`, AArch64 `sdot`
      (`llvm.aarch64.neon.sdot.v4i32.v16i8`), two panels;
    - `isa=avx2`: exact int8 on any x86-64-v3 CPU (AVX2, no VNNI): `L = 8`,
      LHS tiles `M0 x 2` of `i16` (the codes widened when packed), RHS
      tiles `8 x 2` of bytes sign-extended from memory (`vpmovsxbw ymm,
      m128`), and per row a 32-bit broadcast of a 16-bit pair and
      `vpmaddwd` (`llvm.x86.avx2.pmadd.wd`) + `vpaddd` into the
      accumulator; two panels for `M0 = 6` (12 of the 16 ymm registers
      accumulate). Each pair sums two products of at most `128 * 255` in
      magnitude: exact, unlike the saturating `vpmaddubsw`.

    Panels are grouped two at a time where the accumulators, the RHS
    vectors and a broadcast fit the registers (32 zmm or v, 16 ymm); an odd
    last panel runs alone.

    With `isa=avx2`, a product marked `qat.pairs_proven_unsaturated` (by
    `--qat-int8-conv-to-mmt4d`, which proved from the constant weights and
    the codes' range that no pair can saturate) with `M0 x 4` LHS and
    `8 x 4` RHS tiles of bytes runs on `vpmaddubsw` instead: per step the
    LHS rows broadcast and flipped to unsigned (`a + 128`),
    `vpmaddubsw` with the RHS tile (pairs into a saturating i16),
    `vpmaddwd` with ones (into i32) and `vpaddd`; the surplus
    `128 * sum_k rhs[n][k]` is computed once per RHS panel (exactly: a
    pair's `128 * (w0 + w1)` fits i16) and subtracted. Unmarked products
    with those tiles stay for the generic lowering: the lowering never
    assumes what it cannot see.

    `vpdpbusd` multiplies unsigned by signed bytes while `linalg.mmt4d`
    multiplies signed bytes: the RHS vector is flipped to unsigned
    (`w ^ 0x80 = w + 128`, once per step, shared by the rows, so the LHS
    broadcasts fold into the instruction as memory operands) and the
    surplus `128 * sum_k lhs[m][k]`, computed once per LHS panel with the
    same instruction, is subtracted. `sdot` is signed by signed and needs
    neither. The result is exact (i32 wrap-around included, as the generic
    lowering).

    f32 `linalg.mmt4d` ops, and `linalg.generic` ops with mmt4d's loops,
    iterators and body whose operands are transposes of mmt4d's layouts
    (`--qat-fold-mmt4d-packs`' products, read through `memref.transpose`
    views), with LHS tiles `M0 x 1`, RHS tiles `16 x 1` and
    accumulator tiles `M0 x 16` (`--qat-conv-to-mmt4d`'s) become an FMA
    microkernel for any `isa`: per step along K one 16-lane RHS vector per
    panel, and per row a broadcast and one `vector.fma` per panel; two RHS
    panels at a time (`2 * M0` accumulators: 16 zmm registers with AVX-512),
    an odd last panel alone; the outer loop walks the larger operand's
    panels, and a K longer than 256 runs in blocks of 256 steps over all
    panels, so that each block is read from the cache. Each output sums its
    K terms in order. Where the target's registers (`vector-bits`,
    `vector-registers`: AVX2's 16 ymm hold 8 such vectors, not 32) cannot
    hold the accumulators of all `M0` rows, the rows run in groups, each
    over all of the block's K: the same sums, without spilling
    accumulators. Operands may be strided views whose tiles are
    contiguous (a thread's slice of M1).

    A `linalg.fill` of `+0.0` that only initializes such a product's
    accumulator (the memory op right before it on the same buffer, or,
    both split over threads, the loop right before its loop, filling the
    same slice in each iteration) is erased, and the first block of K
    starts its accumulators from zero in registers instead of loading
    them: the same sums, one pass over the output less.

    Other `linalg.mmt4d` ops stay for the generic lowering to loops.
  }];
  let options = [
    Option<"isa", "isa", "std::string", "\"avx512vnni\"",
           "The int8 dot-product instruction set: avx512vnni, avxvnni, avx2 "
           "or dotprod; empty: f32 microkernels only">,
    Option<"vectorBits", "vector-bits", "unsigned", "512",
           "Width of the target's vector registers: a 16-lane f32 vector "
           "takes 512 / vector-bits of them">,
    Option<"vectorRegisters", "vector-registers", "unsigned", "32",
           "Number of the target's vector registers (32 with AVX-512 or "
           "NEON, 16 with AVX2 or SSE)">
  ];
  let dependentDialects = [
    "::mlir::LLVM::LLVMDialect",
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

def LowerDirectConvPass : Pass<"qat-lower-direct-conv"> {
  let summary = "f32 convolutions with short rows as vector loops over rows";
  let description = [{
    Replaces every f32 `linalg` op on buffers that is a 2-D convolution in
    NCHW/FCHW layout (any of the three roles of `--qat-conv-to-mmt4d`) with
    stride 1, no dilation, 2 to 9 window taps and image and output rows
    that fit one vector of 16 lanes (at least 12 of them used) by loops
    whose vectors are rows of the feature maps. No im2col matrix is
    written: the small CNN's second convolution would write and read
    7.2 MB of them per training step, in each of the forward and the
    input gradient.

    - Forward, into `output[n, f, oh, :]`: 16 filters' rows (AVX-512)
      accumulate in registers; per input channel and tap, one masked load of the image
      row at the tap's column offset and a multiply-add per filter with
      the broadcast weight. Terms in `(c, kh, kw)` order, from the
      output's initial value: the same sums as the GEMM's.
    - Input gradient, into `image[n, c, y, :]`: 16 channels' rows
      (AVX-512) accumulate; per filter and row tap `kh` with `0 <= y - kh < OH`,
      one masked load of `g[n, f, y - kh, :]`, shifted right by `kw` lanes
      (a shuffle with zeros) for each column tap. Terms in
      `(f, kh, kw)` order; the GEMM summed over `f`, then col2im over
      `(kh, kw)`, so the rounding differs.
    - Weight gradient, into `filter[f, c, :, :]`: for two filters and one
      channel, the 2 x KH x KW taps accumulate lane-wise products of
      `g[n, f, oh, :]` and the image row at the tap's offset over all
      `(n, oh)`, then each is summed across its lanes in lane order and
      added to the filter's initial value.

    Each output element is computed by one thread in one fixed order, so
    results do not depend on how `--qat-parallelize-kernels` split the op
    (over `n` for the first two roles, over `f` for the third). Masked
    lanes are not read, so rows at the end of a buffer are safe.

    A `linalg.fill` of +0.0 that only zeroes the accumulated buffer right
    before the convolution (or, both split over threads, the loop of such
    fills before its loop) is erased, and the rows start from zero vectors:
    `fma(a, b, +0.0)` is what they computed after the fill, and the weight
    gradient adds its sums to +0.0. The fill's pass over memory goes (the
    small CNN's conv1 output, 3.2 MB, in each forward).

    Register blocking follows the target (`vector-bits`,
    `vector-registers`): the forward and input-gradient blocks hold half
    the registers in accumulators (16 rows with AVX-512, 4 with AVX2, whose
    16-lane row is two ymm registers), the weight gradient one filter at a
    time where a row takes two registers. Blocks only group independent
    outputs: the sums and their order are the same on every target.
  }];
  let options = [
    Option<"vectorBits", "vector-bits", "unsigned", "512",
           "Width of the target's vector registers">,
    Option<"vectorRegisters", "vector-registers", "unsigned", "32",
           "Number of the target's vector registers">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::memref::MemRefDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::vector::VectorDialect",
  ];
}

//===----------------------------------------------------------------------===//
// Loops and copies
//===----------------------------------------------------------------------===//

def StridedCopiesToLinalgPass : Pass<"qat-strided-copies-to-linalg"> {
  let summary = "memref.copy between non-contiguous buffers as linalg.copy";
  let description = [{
    The LLVM lowering of `memref.copy` calls `memrefCopy` of MLIR's C runner
    utilities whenever a side is not contiguous (the interior of a padded
    buffer, a strided view). Compiled models must need nothing but libc, so
    this pass turns those copies into `linalg.copy`, which becomes loops.
    Copies between contiguous buffers stay (they lower to `llvm.memcpy`).
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def InterchangeLoopsPass : Pass<"qat-interchange-loops"> {
  let summary = "Make the output's contiguous dimension the innermost loop";
  let description = [{
    For every `linalg` op with a reduction (convolutions, matmuls, pooling,
    their gradients), moves the loop that walks the output's last
    (contiguous) dimension innermost, generalizing named ops first.
    `out[.., ow] += x[.., ow + kw] * w[..]` then runs with `ow` innermost: a
    loop that `--qat-vectorize-elementwise` runs on vectors without
    reassociating floating point, where the reduction loops innermost could
    not be. That loop is the parallel one that indexes the dimension, or,
    for a scatter into it (a convolution's input gradient,
    `dx[.., ow + kw] += dy[.., ow] * w[.., kw]`), the longest reduction loop
    that steps it by one element (`ow`, not the 3-wide `kw`).

    The other loops keep their relative order. Where the moved loop is
    parallel, each output element is still accumulated in exactly the same
    order: results do not change by a bit. A scatter's element `dx[i]` sums
    its terms by `kw` instead of by `ow`: a different rounding of the same
    sum.
  }];
}

//===----------------------------------------------------------------------===//
// Outlining and deduplication
//===----------------------------------------------------------------------===//

def OutlineKernelsPass : Pass<"qat-outline-kernels", "::mlir::ModuleOp"> {
  let summary = "Move each linalg op on buffers into a function of its own";
  let description = [{
    Replaces every `linalg` op on memrefs in a function body (and every
    `scf.forall`, `scf.parallel` or `scf.for` loop there: threads' loops
    and the one-thread microkernels of `--qat-lower-mmt4d` and
    `--qat-lower-direct-conv`) by a call to a
    new private function `@<function>_kernel_<N>` that holds just that op;
    its operands and the values its body captures become the function's
    arguments. The kernels are marked `noinline`.

    Why: a whole training step is one function of hundreds of loop nests,
    and LLVM's optimizer is superlinear in function size (a MobileNetV2
    gradient step did not finish `opt -O1` in ten minutes as one function).
    One function per kernel keeps compile time linear in model size, and
    gives later passes (parallelization, microkernels) one unit per op.

    What remains of a function is glue (allocations, views, kernel calls)
    in one basic block, and LLVM's instruction selection is quadratic in a
    block's loads and stores (DAG combining's alias queries dominated the
    profile of a MobileNetV2 gradient's ~20,000 glue ops). A function left
    with more than `optnone-above` ops is marked `optnone` (and
    `noinline`), so LLVM compiles its glue without optimizing it; the
    kernels it calls are optimized as before.

    Runs after bufferization, before `linalg` is lowered to loops.
  }];
  let options = [
    Option<"optNoneAbove", "optnone-above", "unsigned", "4096",
           "Mark functions left with more ops than this optnone (0: never)">
  ];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

def DeduplicateKernelsPass : Pass<"qat-deduplicate-kernels", "::mlir::ModuleOp"> {
  let summary = "Merge private functions with identical bodies";
  let description = [{
    Keeps one of each set of private functions whose bodies are the same
    ops with the same attributes and types (locations aside) and whose own
    attributes other than their names agree, and redirects the calls of the
    others to it. Functions that anything other than a direct `func.call`
    refers to are left alone. The first function of a set in module order
    is kept, so the output is deterministic.

    Why: after `--qat-outline-kernels` most kernels of a training step are
    copies: layers of the same shape within a network, and the StatAssist
    warm-up step's copy of everything the fake quantization does not touch.
    A MobileNetV2 QAT step with its warm-up and evaluation functions has
    about 10,600 kernels and 1,270 distinct ones; every later pass and all
    of LLVM's work scale with the number of copies.

    Runs right after `--qat-outline-kernels`.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
}

//===----------------------------------------------------------------------===//
// Vectorization
//===----------------------------------------------------------------------===//

def VectorizeMinMaxReductionsPass : Pass<"qat-vectorize-min-max-reductions"> {
  let summary = "Reduce whole buffers to their min/max with vector loops";
  let description = [{
    Rewrites a `linalg` op on buffers that reduces every element of
    contiguous inputs into scalar (0-d) outputs with `minimumf` or
    `maximumf` (the observers' running ranges) into
    a loop over 64-element vectors (four independent 16-lane chains on
    AVX-512) with a scalar loop for the remainder and one horizontal
    `vector.reduction` per output. As scalar loops these reductions were
    one dependent `vminss` chain: 17% of the small CNN's QAT step.

    Unlike a sum, these combiners give the same result in any order (NaN
    propagates, and `-0 < +0`), so results do not change by a bit.
    (`minnumf`/`maxnumf` may return either zero of a `-0`/`+0` pair: left
    alone.)
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def VectorizeElementwisePass : Pass<"qat-vectorize-elementwise"> {
  let summary = "Run lane-wise linalg ops on buffers over 16-lane vectors";
  let description = [{
    Rewrites a `linalg.generic` on buffers (and the transposes, copies,
    fills and broadcasts that packing leaves, as generics) into a loop nest
    over its outer loops with the vector loop (the innermost loop longer
    than 1) in 16-lane vectors and one masked chunk for its tail, when:

    - every operand that depends on the vector loop has one index that
      steps by a constant with it, followed only by unit dimensions: one
      element (`ow`, `ow + kw`) for a vector load or store, more (`ow * 2 +
      kw`, a stride-2 window) for an input, which is then gathered;
    - every output depends on it one element at a time, so its lanes
      update distinct elements: the loops outside may be reductions (a
      depthwise convolution with `ow` innermost, a sum over the batch), and
      the vector loop itself may be one of a scatter's reduction loops (a
      convolution's input gradient, `dx[ow + kw] += dy[ow] * w[kw]`);
    - the body is lane-wise `arith`/`math`, apart from what is the same in
      every lane (loop indices outside the vector loop, operands without
      it, and what is computed from those alone, such as max pooling's
      window position `kh * 2 + kw`), which is computed once as a scalar.
      `linalg.index` of the vector loop becomes the lanes' positions.

    First, the vector loop absorbs the parallel loops before it over which
    every operand is contiguous (each operand indexes all of them, in
    order, as plain dimensions its layout can merge, or none of them): a
    batch norm's 7x7 map runs as one row of 49 per channel rather than 7
    rows of 7 (mostly mask), a 28x28 one as 49 full chunks rather
    than 28 rows of 16 + 12 lanes, whose masked stores stall the next row's
    loads.

    When the reduction loops come right before the vector loop (and no
    output is also an input), each output chunk stays in a register through
    them: one load and one store per chunk (the linear layer, depthwise
    convolutions, pooling, batch-norm sums), four full chunks at a time so
    that four independent sums overlap and each reduction step reads 64
    consecutive elements. Operands without the vector loop are loaded once
    per row. Batch norm,
    activation masks, fake quantization, packing copies, the optimizer's
    update, depthwise convolutions and max pooling's forward then run in
    `zmm` registers instead of one element at a time.

    Each element gets the same operations in the same order: results do not
    change by a bit. Left alone: innermost loops shorter than 7 (after
    merging), outputs with strided innermost access (max pooling's
    gradient, a strided scatter), `i1` buffers (a byte each in memory), and
    integer division (it could trap on the masked-off lanes).
  }];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def VectorizeTransposesPass : Pass<"qat-vectorize-transposes"> {
  let summary = "Run transposing copies on buffers as in-register tiles";
  let description = [{
    Rewrites an all-parallel `linalg.generic` (or `linalg.transpose`) on f32
    buffers with one input and one output whose contiguous dimensions (the
    last one longer than 1, with unit stride) are indexed by different
    loops, each of at least 8 iterations: the layout changes that
    convolutions as GEMMs leave (NHWC results to NCHW, `linalg.pack`'s
    transposing copies, im2col rows to panels). Such an op has no loop that
    `--qat-vectorize-elementwise` can run on vectors.

    The loops other than the two run as a loop nest; inside, tiles of 16
    (8 when the loop has 8 iterations) rows along the output's contiguous
    loop, each row 16 (or 8) elements along the input's: rows are loaded
    with vector loads, the tile is transposed in registers
    (`vector.transpose`, lowered right away to shuffles with upstream's
    `shuffle16x16` patterns) and each of its columns is stored as a row of
    the output. Tails load and store under masks. A lane-wise body (`out +
    in` as well as a copy) is applied to each output row, so every element
    gets the same operations as in the scalar loop: results do not change
    by a bit.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::ub::UBDialect",
                           "::mlir::vector::VectorDialect"];
}

#endif // QAT_CODEGEN_CPU_PASSES_TD
