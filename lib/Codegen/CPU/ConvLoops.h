//===- ConvLoops.h - 2-D convolutions in any of their three roles -*- C++
//-*-===//
//
// Part of qat-mlir. Private to lib/Codegen/CPU: how
// --qat-conv-to-mmt4d and --qat-lower-direct-conv find a 2-D convolution,
// forward or either gradient, by its indexing maps.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_LIB_CODEGEN_CPU_CONVLOOPS_H
#define QAT_LIB_CODEGEN_CPU_CONVLOOPS_H

#include "mlir/Dialect/Linalg/IR/Linalg.h"

#include <optional>

namespace mlir::qat {

/// `stride * dOut + dilation * dWindow`, one spatial result of the image map.
struct SpatialTerm {
  unsigned out, window;
  int64_t stride, dilation;
};

/// The loops and sizes of a 2-D convolution in NCHW/FCHW layout:
///   output[n, f, oh, ow] += image[n, c, oh*s + kh*d, ow*s + kw*d]
///                           * filter[f, c, kh, kw]
/// with the operands in any of the three roles: the operand the op
/// accumulates into (operand 2) is the output for the forward convolution,
/// the filter for the weight gradient and the image for the input gradient.
struct ConvShape {
  unsigned image, filter, output; // operand numbers
  int64_t n, c, f, oh, ow, kh, kw, ih, iw;
  SpatialTerm rows, cols;
};

/// `op` as a convolution: seven loops, an f32 `out + in0 * in1` body, the
/// three maps above, and static spatial sizes (tensors or buffers); `n`,
/// `c` and `f` may be dynamic (ShapedType::kDynamic).
std::optional<ConvShape> matchConv(linalg::LinalgOp op);

/// Whether --qat-lower-direct-conv computes the convolution without im2col:
/// stride 1, no dilation, a window of 2 to 9 taps, image rows of at most
/// two vectors of `lanes`, and output rows that fill at least 3/4 of the
/// vectors they take (14 or 28 on 16 lanes; a 7 x 7 map would waste more
/// of each multiply-add than the GEMM's im2col copy costs).
bool isDirectConv(const ConvShape &shape, int64_t lanes);

} // namespace mlir::qat

#endif // QAT_LIB_CODEGEN_CPU_CONVLOOPS_H
