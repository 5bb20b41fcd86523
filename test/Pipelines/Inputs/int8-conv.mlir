// One int8 convolution as --qat-fold-quant leaves it (a single function:
// upstream's one-shot-bufferize orders several functions' constants
// differently from run to run).
func.func @conv(%x: tensor<2x1x4x4xf32>) -> tensor<2x2x3x3xi32> {
  %s = arith.constant dense<0.1> : tensor<f32>
  %z = arith.constant dense<3> : tensor<i32>
  %codes = qat.quantize %x, %s, %z to ui8[0 : 255] : tensor<2x1x4x4xf32>, tensor<f32>, tensor<i32> -> tensor<2x1x4x4xi32>
  %zr = arith.constant dense<3> : tensor<1x1x1x1xi32>
  %centered = tosa.sub %codes, %zr : (tensor<2x1x4x4xi32>, tensor<1x1x1x1xi32>) -> tensor<2x1x4x4xi32>
  %w8 = arith.constant dense<[[[[1, 2], [-3, 4]]], [[[-1, -1], [-1, -1]]]]> : tensor<2x1x2x2xi8>
  %w = arith.extsi %w8 : tensor<2x1x2x2xi8> to tensor<2x1x2x2xi32>
  %zero = arith.constant 0 : i32
  %init = tensor.empty() : tensor<2x2x3x3xi32>
  %fill = linalg.fill ins(%zero : i32) outs(%init : tensor<2x2x3x3xi32>) -> tensor<2x2x3x3xi32>
  %conv = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%centered, %w : tensor<2x1x4x4xi32>, tensor<2x1x2x2xi32>) outs(%fill : tensor<2x2x3x3xi32>) -> tensor<2x2x3x3xi32>
  return %conv : tensor<2x2x3x3xi32>
}
