// RUN: qat-opt --qat-fold-batchnorm --split-input-file %s | FileCheck %s

// Conv + bias + eval batch norm: weight * g along the output channels,
// bias (b - mean) * g + beta, with g = gamma * rsqrt(var + eps).
// CHECK-LABEL: func @conv_bias_bn
// CHECK-SAME:    (%[[X:.*]]: tensor<1x2x4x4xf32>, %[[W:.*]]: tensor<3x2x1x1xf32>, %[[B:.*]]: tensor<3xf32>, %[[G:.*]]: tensor<3xf32>, %[[BETA:.*]]: tensor<3xf32>, %[[M:.*]]: tensor<3xf32>, %[[V:.*]]: tensor<3xf32>)
// CHECK:         %[[EPS:.*]] = "tosa.const"() <{values = dense<1.000000e-03> : tensor<1xf32>}>
// CHECK:         %[[VE:.*]] = tosa.add %[[V]], %[[EPS]]
// CHECK:         %[[R:.*]] = tosa.rsqrt %[[VE]]
// CHECK:         %[[F:.*]] = tosa.mul %[[G]], %[[R]]
// CHECK:         %[[C:.*]] = tosa.sub %[[B]], %[[M]]
// CHECK:         %[[CF:.*]] = tosa.mul %[[C]], %[[F]]
// CHECK:         %[[NB:.*]] = tosa.add %[[CF]], %[[BETA]]
// CHECK:         %[[F4:.*]] = tosa.reshape %[[F]], %{{.*}} -> tensor<3x1x1x1xf32>
// CHECK:         %[[NW:.*]] = tosa.mul %[[W]], %[[F4]]
// CHECK:         %[[CONV:.*]] = linalg.conv_2d_nchw_fchw ins(%[[X]], %[[NW]] :
// CHECK:         %[[NB4:.*]] = tosa.reshape %[[NB]], %{{.*}} -> tensor<1x3x1x1xf32>
// CHECK:         %[[OUT:.*]] = tosa.add %[[CONV]], %[[NB4]]
// CHECK-NOT:     qat.batch_norm
// CHECK:         return %[[OUT]]
func.func @conv_bias_bn(%x: tensor<1x2x4x4xf32>, %w: tensor<3x2x1x1xf32>, %b: tensor<3xf32>, %gamma: tensor<3xf32>, %beta: tensor<3xf32>, %mean: tensor<3xf32>, %var: tensor<3xf32>) -> tensor<1x3x4x4xf32> {
  %init = tensor.empty() : tensor<1x3x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw ins(%x, %w : tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) outs(%init : tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  %shape = tosa.const_shape {values = dense<[1, 3, 1, 1]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %bias = tosa.reshape %b, %shape : (tensor<3xf32>, !tosa.shape<4>) -> tensor<1x3x1x1xf32>
  %sum = tosa.add %conv, %bias : (tensor<1x3x4x4xf32>, tensor<1x3x1x1xf32>) -> tensor<1x3x4x4xf32>
  %y:3 = qat.batch_norm %sum, %gamma, %beta, %mean, %var epsilon 1.0e-03 momentum 0.1 : tensor<1x3x4x4xf32>, tensor<3xf32>
  return %y#0 : tensor<1x3x4x4xf32>
}

// -----

// Training-mode batch norm (batch statistics) cannot be folded; one with a
// second user of the conv output neither.
// CHECK-LABEL: func @not_foldable
// CHECK:         qat.batch_norm {{.*}} training
// CHECK:         qat.batch_norm
// CHECK-NOT:     training
func.func @not_foldable(%x: tensor<2x2x4x4xf32>, %w: tensor<3x2x1x1xf32>, %c: tensor<3xf32>) -> (tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>) {
  %init = tensor.empty() : tensor<2x3x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw ins(%x, %w : tensor<2x2x4x4xf32>, tensor<3x2x1x1xf32>) outs(%init : tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %y:3 = qat.batch_norm %conv, %c, %c, %c, %c training epsilon 1.0e-05 momentum 0.1 : tensor<2x3x4x4xf32>, tensor<3xf32>
  %conv2 = linalg.conv_2d_nchw_fchw ins(%x, %w : tensor<2x2x4x4xf32>, tensor<3x2x1x1xf32>) outs(%init : tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %z:3 = qat.batch_norm %conv2, %c, %c, %c, %c epsilon 1.0e-05 momentum 0.1 : tensor<2x3x4x4xf32>, tensor<3xf32>
  return %y#0, %z#0, %conv2 : tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>, tensor<2x3x4x4xf32>
}

// -----

// PyTorch's QAT ConvBn form, as imported: the weight arrives scaled by
// factor = gamma / sqrt(var + eps), the convolution gets a zero bias
// (torch.zeros_like(bias), a fill of 0), and its output is divided by the
// factor before the layer's own bias and the batch norm. The division, the
// zero bias and the batch norm fold into one bias, (b - mean) * g + beta;
// the (already scaled) weight is left as it is.
// CHECK-LABEL: func @pytorch_qat_convbn
// CHECK-SAME:    (%[[X:.*]]: tensor<1x2x4x4xf32>, %[[WS:.*]]: tensor<3x2x1x1xf32>, %[[F:.*]]: tensor<3xf32>, %[[B:.*]]: tensor<3xf32>
// CHECK:         %[[CONV:.*]] = linalg.conv_2d_nchw_fchw ins(%[[X]], %[[WS]] :
// CHECK:         %[[OUT:.*]] = tosa.add %[[CONV]], %{{.*}} : (tensor<1x3x4x4xf32>, tensor<1x3x1x1xf32>)
// CHECK-NOT:     tosa.reciprocal
// CHECK-NOT:     linalg.fill
// CHECK-NOT:     qat.batch_norm
// CHECK:         return %[[OUT]]
func.func @pytorch_qat_convbn(%x: tensor<1x2x4x4xf32>, %w_scaled: tensor<3x2x1x1xf32>, %factor: tensor<3xf32>, %b: tensor<3xf32>, %gamma: tensor<3xf32>, %beta: tensor<3xf32>, %mean: tensor<3xf32>, %var: tensor<3xf32>) -> tensor<1x3x4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %empty = tensor.empty() : tensor<3xf32>
  %zeros = linalg.fill ins(%zero : f32) outs(%empty : tensor<3xf32>) -> tensor<3xf32>
  %init = tensor.empty() : tensor<1x3x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw ins(%x, %w_scaled : tensor<1x2x4x4xf32>, tensor<3x2x1x1xf32>) outs(%init : tensor<1x3x4x4xf32>) -> tensor<1x3x4x4xf32>
  %shape = tosa.const_shape {values = dense<[1, 3, 1, 1]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %zero_bias = tosa.reshape %zeros, %shape : (tensor<3xf32>, !tosa.shape<4>) -> tensor<1x3x1x1xf32>
  %biased = tosa.add %conv, %zero_bias : (tensor<1x3x4x4xf32>, tensor<1x3x1x1xf32>) -> tensor<1x3x4x4xf32>
  %factor4 = tosa.reshape %factor, %shape : (tensor<3xf32>, !tosa.shape<4>) -> tensor<1x3x1x1xf32>
  %inverse = tosa.reciprocal %factor4 : (tensor<1x3x1x1xf32>) -> tensor<1x3x1x1xf32>
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %unscaled = tosa.mul %biased, %inverse, %shift : (tensor<1x3x4x4xf32>, tensor<1x3x1x1xf32>, tensor<1xi8>) -> tensor<1x3x4x4xf32>
  %bias = tosa.reshape %b, %shape : (tensor<3xf32>, !tosa.shape<4>) -> tensor<1x3x1x1xf32>
  %sum = tosa.add %unscaled, %bias : (tensor<1x3x4x4xf32>, tensor<1x3x1x1xf32>) -> tensor<1x3x4x4xf32>
  %y:3 = qat.batch_norm %sum, %gamma, %beta, %mean, %var epsilon 1.0e-05 momentum 0.1 : tensor<1x3x4x4xf32>, tensor<3xf32>
  return %y#0 : tensor<1x3x4x4xf32>
}
