// RUN: qat-opt --qat-target-exact --split-input-file %s | FileCheck %s
// RUN: qat-opt --qat-target-exact --qat-target-exact --split-input-file %s | FileCheck %s --check-prefix=TWICE

// A quantized conv layer (per-channel weights, bias, ReLU6) outputs its
// integer arithmetic; the fake-quantized float layer stays as the surrogate
// that observers see and gradients flow through.
// CHECK-LABEL: func @forward_eval
// CHECK-SAME:    (%[[X:[a-z0-9]+]]: tensor<2x1x4x4xf32> {qat.input = "x"}, %[[W:[a-z0-9]+]]: tensor<3x1x3x3xf32> {{.*}}, %[[B:[a-z0-9]+]]: tensor<3xf32> {{.*}}, %[[SX:[a-z0-9]+]]: tensor<f32> {{.*}}, %[[ZX:[a-z0-9]+]]: tensor<i32> {{.*}}, %[[SW:[a-z0-9]+]]: tensor<3xf32> {{.*}}, %[[ZW:[a-z0-9]+]]: tensor<3xi32> {{.*}}, %[[SY:[a-z0-9]+]]: tensor<f32> {{.*}}, %[[ZY:[a-z0-9]+]]: tensor<i32> {{.*}})
// CHECK:         %[[XQ:.*]] = qat.fake_quant %[[X]], %[[SX]], %[[ZX]]
// CHECK:         %[[SURROGATE:.*]] = qat.fake_quant %{{.*}}, %[[SY]], %[[ZY]] to ui8[0 : 255]
// Input codes padded with the zero-point's code, minus the zero-point;
// weight codes minus theirs (per channel).
// CHECK:         %[[XC:.*]] = qat.quantize %[[XQ]], %[[SX]], %[[ZX]] to ui8[0 : 255] : tensor<2x1x4x4xf32>, tensor<f32>, tensor<i32> -> tensor<2x1x4x4xi32>
// CHECK:         %[[ZPAD:.*]] = tensor.extract %[[ZX]][]
// CHECK:         %[[PAD:.*]] = tensor.pad %[[XC]] low[0, 0, 1, 1] high[0, 0, 1, 1]
// CHECK:           tensor.yield %[[ZPAD]] : i32
// CHECK:         %[[XCC:.*]] = tosa.sub %[[PAD]], %{{.*}} : (tensor<2x1x6x6xi32>, tensor<1x1x1x1xi32>)
// CHECK:         %[[WC:.*]] = qat.quantize %[[W]], %[[SW]], %[[ZW]] to i8[-127 : 127] axis 0 : tensor<3x1x3x3xf32>, tensor<3xf32>, tensor<3xi32> -> tensor<3x1x3x3xi32>
// CHECK:         %[[WCC:.*]] = tosa.sub %[[WC]], %{{.*}} : (tensor<3x1x3x3xi32>, tensor<3x1x1x1xi32>)
// CHECK:         %[[ACC:.*]] = linalg.conv_2d_nchw_fchw ins(%[[XCC]], %[[WCC]] : tensor<2x1x6x6xi32>, tensor<3x1x3x3xi32>) outs(%{{.*}} : tensor<2x3x4x4xi32>)
// The bias on the accumulator's grid, s_x * s_w per channel.
// CHECK:         %[[SXW:.*]] = tosa.mul %{{.*}}, %[[SW]], %{{.*}} : (tensor<1xf32>, tensor<3xf32>, tensor<1xi8>) -> tensor<3xf32>
// CHECK:         %[[BQ:.*]] = qat.quantize %{{.*}}, %[[SXW]], %{{.*}} to i32[-2147483648 : 2147483647] axis 0
// CHECK:         %[[SUM:.*]] = tosa.add %[[ACC]], %{{.*}} : (tensor<2x3x4x4xi32>, tensor<1x3x1x1xi32>)
// Multiplier s_x * s_w * (1 / s_y); ReLU6's bounds as output codes.
// CHECK:         %[[RS:.*]] = tosa.reciprocal
// CHECK:         %[[M:.*]] = tosa.mul %[[SXW]], %[[RS]]
// CHECK:         %[[LO:.*]] = qat.quantize %{{.*}}, %[[SY]], %[[ZY]] to ui8[0 : 255] : tensor<f32>, tensor<f32>, tensor<i32> -> tensor<i32>
// CHECK:         %[[HI:.*]] = qat.quantize %{{.*}}, %[[SY]], %[[ZY]] to ui8[0 : 255] : tensor<f32>, tensor<f32>, tensor<i32> -> tensor<i32>
// CHECK:         %[[Q:.*]] = qat.requantize %[[SUM]], %[[M]], %[[ZY]], %[[LO]], %[[HI]] axis 1 : tensor<2x3x4x4xi32>, tensor<3xf32>
// CHECK:         %[[EXACT:.*]] = qat.dequantize %[[Q]], %[[SY]], %[[ZY]]
// CHECK:         %[[Y:.*]] = qat.straight_through %[[EXACT]], %[[SURROGATE]]
// CHECK:         linalg.pooling_nchw_max {{.*}} ins(%[[Y]],
// Running it again changes nothing (one straight_through here, one in
// @residual_add).
// TWICE-COUNT-2: qat.straight_through
// TWICE-NOT:     qat.straight_through
func.func @forward_eval(%x: tensor<2x1x4x4xf32> {qat.input = "x"}, %w: tensor<3x1x3x3xf32> {qat.state = "conv.weight"}, %b: tensor<3xf32> {qat.state = "conv.bias"}, %sx: tensor<f32> {qat.state = "sx"}, %zx: tensor<i32> {qat.state = "zx"}, %sw: tensor<3xf32> {qat.state = "sw"}, %zw: tensor<3xi32> {qat.state = "zw"}, %sy: tensor<f32> {qat.state = "sy"}, %zy: tensor<i32> {qat.state = "zy"}) -> tensor<2x3x2x2xf32> {
  %xq = qat.fake_quant %x, %sx, %zx to ui8[0 : 255] : tensor<2x1x4x4xf32>, tensor<f32>, tensor<i32>
  %zero = arith.constant 0.0 : f32
  %pad = tensor.pad %xq low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<2x1x4x4xf32> to tensor<2x1x6x6xf32>
  %wq = qat.fake_quant %w, %sw, %zw to i8[-127 : 127] axis 0 : tensor<3x1x3x3xf32>, tensor<3xf32>, tensor<3xi32>
  %init = tensor.empty() : tensor<2x3x4x4xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%init : tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw ins(%pad, %wq : tensor<2x1x6x6xf32>, tensor<3x1x3x3xf32>) outs(%fill : tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %shape = tosa.const_shape {values = dense<[1, 3, 1, 1]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %bias = tosa.reshape %b, %shape : (tensor<3xf32>, !tosa.shape<4>) -> tensor<1x3x1x1xf32>
  %sum = tosa.add %conv, %bias : (tensor<2x3x4x4xf32>, tensor<1x3x1x1xf32>) -> tensor<2x3x4x4xf32>
  %relu = tosa.clamp %sum {min_val = 0.0 : f32, max_val = 6.0 : f32} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %yq = qat.fake_quant %relu, %sy, %zy to ui8[0 : 255] : tensor<2x3x4x4xf32>, tensor<f32>, tensor<i32>
  %window = tensor.empty() : tensor<2x2xf32>
  %pinit = tensor.empty() : tensor<2x3x2x2xf32>
  %ninf = arith.constant 0xFF800000 : f32
  %pfill = linalg.fill ins(%ninf : f32) outs(%pinit : tensor<2x3x2x2xf32>) -> tensor<2x3x2x2xf32>
  %pool = linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%yq, %window : tensor<2x3x4x4xf32>, tensor<2x2xf32>) outs(%pfill : tensor<2x3x2x2xf32>) -> tensor<2x3x2x2xf32>
  return %pool : tensor<2x3x2x2xf32>
}

// -----
// Batch norm between the layer and its quantization (training mode): no
// integer form, the layer stays as it is.
// CHECK-LABEL: func @conv_bn_training
// CHECK-NOT:     qat.straight_through
// CHECK-NOT:     qat.requantize
// CHECK:         return
func.func @conv_bn_training(%x: tensor<1x1x4x4xf32>, %w: tensor<2x1x1x1xf32>, %c: tensor<2xf32>, %s: tensor<f32>, %z: tensor<i32>, %ws: tensor<f32>, %wz: tensor<i32>) -> tensor<1x2x4x4xf32> {
  %xq = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<1x1x4x4xf32>, tensor<f32>, tensor<i32>
  %wq = qat.fake_quant %w, %ws, %wz to i8[-128 : 127] : tensor<2x1x1x1xf32>, tensor<f32>, tensor<i32>
  %init = tensor.empty() : tensor<1x2x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw ins(%xq, %wq : tensor<1x1x4x4xf32>, tensor<2x1x1x1xf32>) outs(%init : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  %y:3 = qat.batch_norm %conv, %c, %c, %c, %c training epsilon 1.0e-05 momentum 0.1 : tensor<1x2x4x4xf32>, tensor<2xf32>
  %yq = qat.fake_quant %y#0, %s, %z to ui8[0 : 255] : tensor<1x2x4x4xf32>, tensor<f32>, tensor<i32>
  return %yq : tensor<1x2x4x4xf32>
}

// -----
// A residual addition with ReLU: both inputs' centered codes, shifted left
// by 20 bits, are rescaled to twice the larger input scale, added, and
// requantized to the output grid (TFLite's form).
// CHECK-LABEL: func @residual_add
// CHECK-SAME:    (%[[A:[a-z0-9]+]]: {{.*}}, %[[B:[a-z0-9]+]]: {{.*}}, %[[SA:[a-z0-9]+]]: tensor<f32> {{.*}}, %[[ZA:[a-z0-9]+]]: tensor<i32> {{.*}}, %[[SB:[a-z0-9]+]]: tensor<f32> {{.*}}, %[[ZB:[a-z0-9]+]]: tensor<i32> {{.*}}, %[[SY:[a-z0-9]+]]: tensor<f32> {{.*}}, %[[ZY:[a-z0-9]+]]: tensor<i32> {{.*}})
// CHECK:         %[[AQ:.*]] = qat.fake_quant %[[A]], %[[SA]], %[[ZA]] to ui8[0 : 255]
// CHECK:         %[[BQ:.*]] = qat.fake_quant %[[B]], %[[SB]], %[[ZB]] to i8[-128 : 127]
// CHECK:         %[[SURROGATE:.*]] = qat.fake_quant %{{.*}}, %[[SY]], %[[ZY]] to ui8[0 : 255]
// CHECK:         %[[AC:.*]] = qat.quantize %[[AQ]], %[[SA]], %[[ZA]] to ui8[0 : 255]
// CHECK:         %[[ACC:.*]] = tosa.sub %[[AC]], %{{.*}} : (tensor<1x2x3x3xi32>, tensor<1x1x1x1xi32>)
// CHECK:         %[[BC:.*]] = qat.quantize %[[BQ]], %[[SB]], %[[ZB]] to i8[-128 : 127]
// CHECK:         %[[BCC:.*]] = tosa.sub %[[BC]], %{{.*}} : (tensor<1x2x3x3xi32>, tensor<1x1x1x1xi32>)
// CHECK:         %[[MAX:.*]] = tosa.maximum %[[SA]], %[[SB]]
// CHECK:         %[[TWO:.*]] = arith.constant dense<2.000000e+00> : tensor<f32>
// CHECK:         %[[COMMON:.*]] = tosa.mul %[[MAX]], %[[TWO]]
// CHECK:         %[[INV:.*]] = tosa.reciprocal %[[COMMON]]
// CHECK:         arith.constant dense<1048576> : tensor<i32>
// CHECK:         %[[ASHIFT:.*]] = tosa.mul %[[ACC]], %{{.*}} : (tensor<1x2x3x3xi32>, tensor<1x1x1x1xi32>, tensor<1xi8>)
// CHECK:         %[[MA:.*]] = tosa.mul %[[SA]], %[[INV]]
// CHECK:         %[[RA:.*]] = qat.requantize %[[ASHIFT]], %[[MA]]
// CHECK:         %[[BSHIFT:.*]] = tosa.mul %[[BCC]], %{{.*}} : (tensor<1x2x3x3xi32>, tensor<1x1x1x1xi32>, tensor<1xi8>)
// CHECK:         %[[MB:.*]] = tosa.mul %[[SB]], %[[INV]]
// CHECK:         %[[RB:.*]] = qat.requantize %[[BSHIFT]], %[[MB]]
// CHECK:         %[[SUM:.*]] = tosa.add %[[RA]], %[[RB]]
// CHECK:         %[[RSY:.*]] = tosa.reciprocal %[[SY]]
// CHECK:         %[[M0:.*]] = tosa.mul %[[COMMON]], %[[RSY]]
// CHECK:         %[[TINY:.*]] = arith.constant dense<9.53674316E-7> : tensor<f32>
// CHECK:         %[[M:.*]] = tosa.mul %[[M0]], %[[TINY]]
// CHECK:         %[[LO:.*]] = qat.quantize %{{.*}}, %[[SY]], %[[ZY]] to ui8[0 : 255] : tensor<f32>
// CHECK:         %[[Q:.*]] = qat.requantize %[[SUM]], %[[M]], %[[ZY]], %[[LO]], %{{.*}} : tensor<1x2x3x3xi32>, tensor<f32>
// CHECK:         %[[EXACT:.*]] = qat.dequantize %[[Q]], %[[SY]], %[[ZY]]
// CHECK:         %[[Y:.*]] = qat.straight_through %[[EXACT]], %[[SURROGATE]]
// CHECK:         return %[[Y]]
func.func @residual_add(%a: tensor<1x2x3x3xf32> {qat.input = "a"}, %b: tensor<1x2x3x3xf32> {qat.input = "b"}, %sa: tensor<f32> {qat.state = "sa"}, %za: tensor<i32> {qat.state = "za"}, %sb: tensor<f32> {qat.state = "sb"}, %zb: tensor<i32> {qat.state = "zb"}, %sy: tensor<f32> {qat.state = "sy"}, %zy: tensor<i32> {qat.state = "zy"}) -> tensor<1x2x3x3xf32> {
  %aq = qat.fake_quant %a, %sa, %za to ui8[0 : 255] : tensor<1x2x3x3xf32>, tensor<f32>, tensor<i32>
  %bq = qat.fake_quant %b, %sb, %zb to i8[-128 : 127] : tensor<1x2x3x3xf32>, tensor<f32>, tensor<i32>
  %sum = tosa.add %aq, %bq : (tensor<1x2x3x3xf32>, tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %relu = tosa.clamp %sum {min_val = 0.0 : f32, max_val = 0x7F800000 : f32} : (tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  %yq = qat.fake_quant %relu, %sy, %zy to ui8[0 : 255] : tensor<1x2x3x3xf32>, tensor<f32>, tensor<i32>
  return %yq : tensor<1x2x3x3xf32>
}

// -----
// Inputs of an addition that are not both quantized: no integer form.
// CHECK-LABEL: func @add_of_float
// CHECK-NOT:     qat.straight_through
// CHECK:         return
func.func @add_of_float(%a: tensor<4xf32>, %b: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4xf32> {
  %aq = qat.fake_quant %a, %s, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  %sum = tosa.add %aq, %b : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %yq = qat.fake_quant %sum, %s, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return %yq : tensor<4xf32>
}
