// RUN: qat-opt "--qat-prepare=weights=per-channel" --split-input-file %s | FileCheck %s

// What --qat-prepare does for the layers of image-to-image networks.

// A transposed convolution's weight (C_in x C_out x kh x kw, which the
// importer transposes and flips into the convolution's filter) is observed
// and fake-quantized per output channel: along axis 1, one entry per
// output channel, before the transpose.
// CHECK-LABEL: func.func @transposed(
// CHECK-SAME:    %[[W:[a-z0-9]+]]: tensor<3x2x2x2xf32> {qat.state = "up.weight", qat.trainable}
// CHECK-SAME:    tensor<2xf32> {qat.state = "up.weight_fake_quant.min_val"}
// CHECK:         qat.observe_moving_average_min_max %[[W]], {{.*}} axis 1 : tensor<3x2x2x2xf32>, tensor<2xf32>
// CHECK:         %[[WQ:.*]] = qat.fake_quant %[[W]], {{.*}} axis 1 : tensor<3x2x2x2xf32>, tensor<2xf32>, tensor<2xi32>
// CHECK:         %[[T:.*]] = tosa.transpose %[[WQ]]
// CHECK:         %[[R:.*]] = tosa.reverse %[[T]]
// CHECK:         %[[F:.*]] = tosa.reverse %[[R]]
// CHECK:         linalg.conv_2d_nchw_fchw ins(%{{.*}}, %[[F]] :

func.func @transposed(%w: tensor<3x2x2x2xf32> {qat.state = "up.weight", qat.trainable}, %x: tensor<1x3x4x4xf32> {qat.input = "x"}) -> tensor<1x2x3x3xf32> {
  %t = tosa.transpose %w {perms = array<i32: 1, 0, 2, 3>} : (tensor<3x2x2x2xf32>) -> tensor<2x3x2x2xf32>
  %r1 = tosa.reverse %t {axis = 2 : i32} : (tensor<2x3x2x2xf32>) -> tensor<2x3x2x2xf32>
  %r2 = tosa.reverse %r1 {axis = 3 : i32} : (tensor<2x3x2x2xf32>) -> tensor<2x3x2x2xf32>
  %0 = tensor.empty() : tensor<1x2x3x3xf32>
  %c = linalg.conv_2d_nchw_fchw ins(%x, %r2 : tensor<1x3x4x4xf32>, tensor<2x3x2x2xf32>) outs(%0 : tensor<1x2x3x3xf32>) -> tensor<1x2x3x3xf32>
  return %c : tensor<1x2x3x3xf32>
}


// -----

// A layer whose input comes from float arithmetic gets its own input
// observer (conv.input_post_process), before the padding that leads to
// it; a frozen weight (qat.state without qat.trainable) is quantized as a
// trained one.
// CHECK-LABEL: func.func @float_input(
// CHECK-SAME:    tensor<f32> {qat.state = "conv.input_post_process.min_val"}
// CHECK:         %[[XQ:.*]] = qat.fake_quant %{{.*}} to ui8[0 : 255]
// CHECK:         %[[E:.*]] = tosa.exp %[[XQ]]
// CHECK:         qat.observe_moving_average_min_max %[[E]]
// CHECK:         %[[EQ:.*]] = qat.fake_quant %[[E]], {{.*}} to ui8[0 : 255]
// CHECK:         %[[P:.*]] = tensor.pad %[[EQ]] low[0, 0, 1, 1]
// CHECK:         %[[WQ:.*]] = qat.fake_quant %arg0, {{.*}} to si8[-128 : 127] axis 0
// CHECK:         linalg.conv_2d_nchw_fchw ins(%[[P]], %[[WQ]] :

func.func @float_input(%w: tensor<2x2x1x1xf32> {qat.state = "conv.weight"}, %x: tensor<1x2x2x2xf32> {qat.input = "x"}) -> tensor<1x2x4x4xf32> {
  %e = tosa.exp %x : (tensor<1x2x2x2xf32>) -> tensor<1x2x2x2xf32>
  %zero = arith.constant 0.0 : f32
  %p = tensor.pad %e low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%a: index, %b: index, %c: index, %d: index):
    tensor.yield %zero : f32
  } : tensor<1x2x2x2xf32> to tensor<1x2x4x4xf32>
  %0 = tensor.empty() : tensor<1x2x4x4xf32>
  %c = linalg.conv_2d_nchw_fchw ins(%p, %w : tensor<1x2x4x4xf32>, tensor<2x2x1x1xf32>) outs(%0 : tensor<1x2x4x4xf32>) -> tensor<1x2x4x4xf32>
  return %c : tensor<1x2x4x4xf32>
}


// -----

// Residual adds are numbered per submodule (the path in their location):
// a network's observers keep their names inside another model.
// CHECK-LABEL: func.func @adds(
// CHECK-SAME:    {qat.state = "disc.block.add_0.activation_post_process.min_val"}
// CHECK-SAME:    {qat.state = "disc.block.add_1.activation_post_process.min_val"}
// CHECK-SAME:    {qat.state = "add_0.activation_post_process.min_val"}

func.func @adds(%x: tensor<4xf32> {qat.input = "x"}) -> tensor<4xf32> {
  %e = tosa.exp %x : (tensor<4xf32>) -> tensor<4xf32>
  %a = tosa.add %x, %e : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc(fused<"disc.block">["m.py":1:1])
  %b = tosa.add %a, %e : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32> loc(fused<"disc.block">["m.py":2:1])
  %c = tosa.add %b, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %c : tensor<4xf32>
}

// -----

// A linear layer with one output: its weight's output axis (0) is found
// back through the importer's reshape to 1 x K x 1, where a unit axis must
// not be skipped.
// CHECK-LABEL: func.func @one_output(
// CHECK:         qat.fake_quant %arg0, {{.*}} axis 0 : tensor<1x4xf32>, tensor<1xf32>, tensor<1xi32>
func.func @one_output(%arg0: tensor<1x4xf32> {qat.state = "weight", qat.trainable}, %arg2: tensor<2x4xf32> {qat.input = "input"}) -> tensor<1x2x1xf32> {
  %0 = tosa.transpose %arg0 {perms = array<i32: 1, 0>} : (tensor<1x4xf32>) -> tensor<4x1xf32>
  %1 = tosa.const_shape  {values = dense<[1, 2, 4]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %2 = tosa.reshape %arg2, %1 : (tensor<2x4xf32>, !tosa.shape<3>) -> tensor<1x2x4xf32>
  %3 = tosa.const_shape  {values = dense<[1, 4, 1]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %4 = tosa.reshape %0, %3 : (tensor<4x1xf32>, !tosa.shape<3>) -> tensor<1x4x1xf32>
  %5 = "tosa.const"() <{values = dense<0.000000e+00> : tensor<1xf32>}> : () -> tensor<1xf32>
  %6 = "tosa.const"() <{values = dense<0.000000e+00> : tensor<1xf32>}> : () -> tensor<1xf32>
  %7 = tosa.matmul %2, %4, %5, %6 : (tensor<1x2x4xf32>, tensor<1x4x1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x1xf32>
  return %7 : tensor<1x2x1xf32>
}
