// RUN: qat-opt --qat-fold-quant %s | FileCheck %s
// RUN: qat-opt --qat-target-exact --qat-fold-quant %s | FileCheck %s --check-prefix=EXACT
// RUN: qat-opt --qat-fold-quant=function=depthwise_pool %s | FileCheck %s --check-prefix=DW
// RUN: qat-opt --qat-fold-quant=function=observing %s | FileCheck %s --check-prefix=OBSERVING

// conv + bias + ReLU -> max pool -> flatten -> linear + bias, all quantized
// as --qat-prepare leaves them. The int8 function quantizes the input once,
// moves codes through padding (with the zero-point), max pooling and
// reshapes, and dequantizes only the logits.
// CHECK-LABEL: func @forward_eval_int8
// CHECK-SAME:    (%[[X:[a-z0-9]+]]: tensor<2x1x4x4xf32> {qat.input = "x"}, %{{.*}}, %[[S:[a-z0-9]+]]: tensor<f32> {qat.state = "s"}, %[[Z:[a-z0-9]+]]: tensor<i32> {qat.state = "z"}, %{{.*}}, %[[Z1:[a-z0-9]+]]: tensor<i32> {qat.state = "z1"}, %[[S2:[a-z0-9]+]]: tensor<f32> {qat.state = "s2"}, %[[Z2:[a-z0-9]+]]: tensor<i32> {qat.state = "z2"})
// CHECK-SAME:    -> (tensor<2x5xf32> {qat.output = "logits"})
// CHECK-NOT:     qat.fake_quant
// CHECK:         %[[XQ:.*]] = qat.quantize %[[X]], %[[S]], %[[Z]] to ui8[0 : 255]
// CHECK:         %[[ZPAD:.*]] = tensor.extract %[[Z]][] : tensor<i32>
// CHECK:         %[[PAD:.*]] = tensor.pad %[[XQ]] low[0, 0, 1, 1] high[0, 0, 1, 1]
// CHECK:           tensor.yield %[[ZPAD]] : i32
// CHECK:         } : tensor<2x1x4x4xi32> to tensor<2x1x6x6xi32>
// CHECK:         %[[XC:.*]] = tosa.sub %[[PAD]], %{{.*}} : (tensor<2x1x6x6xi32>, tensor<1x1x1x1xi32>)
// CHECK:         linalg.conv_2d_nchw_fchw ins(%[[XC]], %{{.*}} : tensor<2x1x6x6xi32>, tensor<3x1x3x3xi32>)
// CHECK:         %[[C1:.*]] = qat.requantize %{{.*}}, %{{.*}}, %[[Z1]], %{{.*}}, %{{.*}} : tensor<2x3x4x4xi32>, tensor<f32>
// CHECK:         %[[POOL:.*]] = linalg.pooling_nchw_max {{.*}} ins(%[[C1]], %{{.*}} : tensor<2x3x4x4xi32>, tensor<2x2xf32>) outs(%{{.*}} : tensor<2x3x2x2xi32>)
// CHECK:         %[[FLAT:.*]] = tosa.reshape %[[POOL]], %{{.*}} -> tensor<2x12xi32>
// CHECK:         %[[ROWS:.*]] = tosa.reshape %[[FLAT]], %{{.*}} -> tensor<1x2x12xi32>
// CHECK:         %[[RC:.*]] = tosa.sub %[[ROWS]], %{{.*}} : (tensor<1x2x12xi32>, tensor<1x1x1xi32>)
// CHECK:         %[[WT:.*]] = tosa.transpose %{{.*}} {perms = array<i32: 1, 0>} : (tensor<5x12xi32>) -> tensor<12x5xi32>
// CHECK:         %[[W3:.*]] = tosa.reshape %[[WT]], %{{.*}} -> tensor<1x12x5xi32>
// CHECK:         %[[MM:.*]] = linalg.batch_matmul ins(%[[RC]], %[[W3]] : tensor<1x2x12xi32>, tensor<1x12x5xi32>)
// CHECK:         %[[L:.*]] = qat.requantize %{{.*}}, %{{.*}}, %[[Z2]], %{{.*}}, %{{.*}} : tensor<2x5xi32>, tensor<f32>
// CHECK:         %[[OUT:.*]] = qat.dequantize %[[L]], %[[S2]], %[[Z2]]
// CHECK-NOT:     linalg.conv_2d_nchw_fchw {{.*}}f32
// CHECK:         return %[[OUT]] : tensor<2x5xf32>

// The target-exact function folds to the same integer program.
// EXACT-LABEL: func @forward_eval_int8
// EXACT-NOT:     qat.straight_through
// EXACT-NOT:     qat.fake_quant
// EXACT-COUNT-2: qat.requantize
// EXACT:         qat.dequantize
// EXACT-NOT:     qat.requantize
// EXACT:         return
func.func @forward_eval(%x: tensor<2x1x4x4xf32> {qat.input = "x"}, %w: tensor<3x1x3x3xf32> {qat.state = "conv.weight"}, %b: tensor<3xf32> {qat.state = "conv.bias"}, %fw: tensor<5x12xf32> {qat.state = "fc.weight"}, %fb: tensor<5xf32> {qat.state = "fc.bias"}, %s: tensor<f32> {qat.state = "s"}, %z: tensor<i32> {qat.state = "z"}, %ws: tensor<f32> {qat.state = "ws"}, %wz: tensor<i32> {qat.state = "wz"}, %s1: tensor<f32> {qat.state = "s1"}, %z1: tensor<i32> {qat.state = "z1"}, %s2: tensor<f32> {qat.state = "s2"}, %z2: tensor<i32> {qat.state = "z2"}) -> (tensor<2x5xf32> {qat.output = "logits"}, tensor<i32> {qat.state = "z"}) {
  %xq = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<2x1x4x4xf32>, tensor<f32>, tensor<i32>
  %zero = arith.constant 0.0 : f32
  %pad = tensor.pad %xq low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<2x1x4x4xf32> to tensor<2x1x6x6xf32>
  %wq = qat.fake_quant %w, %ws, %wz to i8[-128 : 127] : tensor<3x1x3x3xf32>, tensor<f32>, tensor<i32>
  %init = tensor.empty() : tensor<2x3x4x4xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%init : tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %conv = linalg.conv_2d_nchw_fchw ins(%pad, %wq : tensor<2x1x6x6xf32>, tensor<3x1x3x3xf32>) outs(%fill : tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %shape = tosa.const_shape {values = dense<[1, 3, 1, 1]> : tensor<4xindex>} : () -> !tosa.shape<4>
  %bias = tosa.reshape %b, %shape : (tensor<3xf32>, !tosa.shape<4>) -> tensor<1x3x1x1xf32>
  %sum = tosa.add %conv, %bias : (tensor<2x3x4x4xf32>, tensor<1x3x1x1xf32>) -> tensor<2x3x4x4xf32>
  %relu = tosa.clamp %sum {min_val = 0.0 : f32, max_val = 0x7F800000 : f32} : (tensor<2x3x4x4xf32>) -> tensor<2x3x4x4xf32>
  %yq = qat.fake_quant %relu, %s1, %z1 to ui8[0 : 255] : tensor<2x3x4x4xf32>, tensor<f32>, tensor<i32>
  %window = tensor.empty() : tensor<2x2xf32>
  %pinit = tensor.empty() : tensor<2x3x2x2xf32>
  %ninf = arith.constant 0xFF800000 : f32
  %pfill = linalg.fill ins(%ninf : f32) outs(%pinit : tensor<2x3x2x2xf32>) -> tensor<2x3x2x2xf32>
  %pool = linalg.pooling_nchw_max {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%yq, %window : tensor<2x3x4x4xf32>, tensor<2x2xf32>) outs(%pfill : tensor<2x3x2x2xf32>) -> tensor<2x3x2x2xf32>
  %s2d = tosa.const_shape {values = dense<[2, 12]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %flat = tosa.reshape %pool, %s2d : (tensor<2x3x2x2xf32>, !tosa.shape<2>) -> tensor<2x12xf32>
  %fwq = qat.fake_quant %fw, %ws, %wz to i8[-128 : 127] : tensor<5x12xf32>, tensor<f32>, tensor<i32>
  %fwt = tosa.transpose %fwq {perms = array<i32: 1, 0>} : (tensor<5x12xf32>) -> tensor<12x5xf32>
  %s3a = tosa.const_shape {values = dense<[1, 2, 12]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %a = tosa.reshape %flat, %s3a : (tensor<2x12xf32>, !tosa.shape<3>) -> tensor<1x2x12xf32>
  %s3b = tosa.const_shape {values = dense<[1, 12, 5]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %bm = tosa.reshape %fwt, %s3b : (tensor<12x5xf32>, !tosa.shape<3>) -> tensor<1x12x5xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %mm = tosa.matmul %a, %bm, %zp, %zp : (tensor<1x2x12xf32>, tensor<1x12x5xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x5xf32>
  %s2o = tosa.const_shape {values = dense<[2, 5]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %out = tosa.reshape %mm, %s2o : (tensor<1x2x5xf32>, !tosa.shape<2>) -> tensor<2x5xf32>
  %s2b = tosa.const_shape {values = dense<[1, 5]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %fbr = tosa.reshape %fb, %s2b : (tensor<5xf32>, !tosa.shape<2>) -> tensor<1x5xf32>
  %logits = tosa.add %out, %fbr : (tensor<2x5xf32>, tensor<1x5xf32>) -> tensor<2x5xf32>
  %lq = qat.fake_quant %logits, %s2, %z2 to ui8[0 : 255] : tensor<2x5xf32>, tensor<f32>, tensor<i32>
  return %lq, %z : tensor<2x5xf32>, tensor<i32>
}

// MobileNetV2's pieces: a depthwise convolution (grouped, per-channel
// weights, ReLU6) and global average pooling into a linear layer. The
// pooling sums codes; its 1/9 goes into the linear layer's multiplier and
// the zero-point is subtracted 9 times.
// DW-LABEL: func @depthwise_pool_int8
// DW-SAME:     (%[[X:[a-z0-9]+]]: tensor<1x4x6x6xf32> {qat.input = "x"}, %{{.*}}, %[[S:[a-z0-9]+]]: tensor<f32> {qat.state = "s"}, %[[Z:[a-z0-9]+]]: tensor<i32> {qat.state = "z"}, %{{.*}}, %[[Z1:[a-z0-9]+]]: tensor<i32> {qat.state = "z1"}, %[[S2:[a-z0-9]+]]: tensor<f32> {qat.state = "s2"}, %[[Z2:[a-z0-9]+]]: tensor<i32> {qat.state = "z2"})
// DW-NOT:      qat.fake_quant
// DW:          %[[XQ:.*]] = qat.quantize %[[X]], %[[S]], %[[Z]] to ui8[0 : 255]
// DW:          %[[PAD:.*]] = tensor.pad %[[XQ]]
// DW:          %[[XG:.*]] = tensor.expand_shape %[[PAD]] {{.*}} into tensor<1x4x1x8x8xi32>
// DW:          %[[XC:.*]] = tosa.sub %[[XG]], %{{.*}} : (tensor<1x4x1x8x8xi32>, tensor<1x1x1x1x1xi32>)
// DW:          %[[WG:.*]] = tensor.expand_shape %{{.*}} into tensor<4x1x1x3x3xi32>
// DW:          %[[DW:.*]] = linalg.conv_2d_ngchw_gfchw {{.*}} ins(%[[XC]], %[[WG]] : tensor<1x4x1x8x8xi32>, tensor<4x1x1x3x3xi32>) outs(%{{.*}} : tensor<1x4x1x3x3xi32>)
// DW:          %[[FLAT:.*]] = tensor.collapse_shape %[[DW]] {{.*}} into tensor<1x4x3x3xi32>
// DW:          %[[C1:.*]] = qat.requantize %{{.*}}, %{{.*}}, %[[Z1]], %{{.*}}, %{{.*}} axis 1 : tensor<1x4x3x3xi32>, tensor<4xf32>
// DW:          %[[SUM:.*]] = linalg.pooling_nchw_sum {{.*}} ins(%[[C1]], %{{.*}} : tensor<1x4x3x3xi32>, tensor<3x3xf32>) outs(%{{.*}} : tensor<1x4x1x1xi32>)
// DW:          %[[NINTH:.*]] = arith.constant dense<0.111111112> : tensor<f32>
// DW:          %[[SCALE:.*]] = tosa.mul %{{.*}}, %[[NINTH]]
// DW:          %[[ROWS:.*]] = tosa.reshape %[[SUM]], %{{.*}} -> tensor<1x1x4xi32>
// DW:          %[[Z1R:.*]] = tosa.reshape %[[Z1]], %{{.*}} -> tensor<1x1x1xi32>
// DW:          %[[NINE:.*]] = arith.constant dense<9> : tensor<i32>
// DW:          %[[NINER:.*]] = tosa.reshape %[[NINE]]
// DW:          %[[Z9:.*]] = tosa.mul %[[Z1R]], %[[NINER]]
// DW:          %[[RC:.*]] = tosa.sub %[[ROWS]], %[[Z9]]
// DW:          linalg.batch_matmul ins(%[[RC]], %{{.*}} : tensor<1x1x4xi32>, tensor<1x4x2xi32>)
// DW:          %[[XW:.*]] = tosa.mul %[[SCALE]], %{{.*}}
// DW:          %[[L:.*]] = qat.requantize %{{.*}}, %{{.*}}, %[[Z2]], %{{.*}}, %{{.*}} : tensor<1x2xi32>, tensor<f32>
// DW:          %[[OUT:.*]] = qat.dequantize %[[L]], %[[S2]], %[[Z2]]
// DW:          return %[[OUT]] : tensor<1x2xf32>
func.func @depthwise_pool(%x: tensor<1x4x6x6xf32> {qat.input = "x"}, %w: tensor<4x1x3x3xf32> {qat.state = "dw.weight"}, %fw: tensor<2x4xf32> {qat.state = "fc.weight"}, %s: tensor<f32> {qat.state = "s"}, %z: tensor<i32> {qat.state = "z"}, %ws: tensor<4xf32> {qat.state = "ws"}, %wz: tensor<4xi32> {qat.state = "wz"}, %s1: tensor<f32> {qat.state = "s1"}, %z1: tensor<i32> {qat.state = "z1"}, %s2: tensor<f32> {qat.state = "s2"}, %z2: tensor<i32> {qat.state = "z2"}) -> (tensor<1x2xf32> {qat.output = "logits"}) {
  %xq = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<1x4x6x6xf32>, tensor<f32>, tensor<i32>
  %zero = arith.constant 0.0 : f32
  %pad = tensor.pad %xq low[0, 0, 1, 1] high[0, 0, 1, 1] {
  ^bb0(%i: index, %j: index, %k: index, %l: index):
    tensor.yield %zero : f32
  } : tensor<1x4x6x6xf32> to tensor<1x4x8x8xf32>
  %xg = tensor.expand_shape %pad [[0], [1, 2], [3], [4]] output_shape [1, 4, 1, 8, 8] : tensor<1x4x8x8xf32> into tensor<1x4x1x8x8xf32>
  %wq = qat.fake_quant %w, %ws, %wz to i8[-127 : 127] axis 0 : tensor<4x1x3x3xf32>, tensor<4xf32>, tensor<4xi32>
  %wg = tensor.expand_shape %wq [[0, 1], [2], [3], [4]] output_shape [4, 1, 1, 3, 3] : tensor<4x1x3x3xf32> into tensor<4x1x1x3x3xf32>
  %init = tensor.empty() : tensor<1x4x1x3x3xf32>
  %fill = linalg.fill ins(%zero : f32) outs(%init : tensor<1x4x1x3x3xf32>) -> tensor<1x4x1x3x3xf32>
  %conv = linalg.conv_2d_ngchw_gfchw {dilations = dense<1> : tensor<2xi64>, strides = dense<2> : tensor<2xi64>} ins(%xg, %wg : tensor<1x4x1x8x8xf32>, tensor<4x1x1x3x3xf32>) outs(%fill : tensor<1x4x1x3x3xf32>) -> tensor<1x4x1x3x3xf32>
  %flat = tensor.collapse_shape %conv [[0], [1, 2], [3], [4]] : tensor<1x4x1x3x3xf32> into tensor<1x4x3x3xf32>
  %relu6 = tosa.clamp %flat {min_val = 0.0 : f32, max_val = 6.0 : f32} : (tensor<1x4x3x3xf32>) -> tensor<1x4x3x3xf32>
  %yq = qat.fake_quant %relu6, %s1, %z1 to ui8[0 : 255] : tensor<1x4x3x3xf32>, tensor<f32>, tensor<i32>
  %window = tensor.empty() : tensor<3x3xf32>
  %pinit = tensor.empty() : tensor<1x4x1x1xf32>
  %pfill = linalg.fill ins(%zero : f32) outs(%pinit : tensor<1x4x1x1xf32>) -> tensor<1x4x1x1xf32>
  %sum = linalg.pooling_nchw_sum {dilations = dense<1> : tensor<2xi64>, strides = dense<3> : tensor<2xi64>} ins(%yq, %window : tensor<1x4x3x3xf32>, tensor<3x3xf32>) outs(%pfill : tensor<1x4x1x1xf32>) -> tensor<1x4x1x1xf32>
  %ninth = "tosa.const"() <{values = dense<0.111111112> : tensor<1x1x1x1xf32>}> : () -> tensor<1x1x1x1xf32>
  %shift = "tosa.const"() <{values = dense<0> : tensor<1xi8>}> : () -> tensor<1xi8>
  %mean = tosa.mul %sum, %ninth, %shift : (tensor<1x4x1x1xf32>, tensor<1x1x1x1xf32>, tensor<1xi8>) -> tensor<1x4x1x1xf32>
  %s3a = tosa.const_shape {values = dense<[1, 1, 4]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %rows = tosa.reshape %mean, %s3a : (tensor<1x4x1x1xf32>, !tosa.shape<3>) -> tensor<1x1x4xf32>
  %fwq = qat.fake_quant %fw, %s, %z2 to i8[-128 : 127] : tensor<2x4xf32>, tensor<f32>, tensor<i32>
  %fwt = tosa.transpose %fwq {perms = array<i32: 1, 0>} : (tensor<2x4xf32>) -> tensor<4x2xf32>
  %s3b = tosa.const_shape {values = dense<[1, 4, 2]> : tensor<3xindex>} : () -> !tosa.shape<3>
  %wm = tosa.reshape %fwt, %s3b : (tensor<4x2xf32>, !tosa.shape<3>) -> tensor<1x4x2xf32>
  %zp = "tosa.const"() <{values = dense<0.0> : tensor<1xf32>}> : () -> tensor<1xf32>
  %mm = tosa.matmul %rows, %wm, %zp, %zp : (tensor<1x1x4xf32>, tensor<1x4x2xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x1x2xf32>
  %s2o = tosa.const_shape {values = dense<[1, 2]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %out = tosa.reshape %mm, %s2o : (tensor<1x1x2xf32>, !tosa.shape<2>) -> tensor<1x2xf32>
  %lq = qat.fake_quant %out, %s2, %z2 to ui8[0 : 255] : tensor<1x2xf32>, tensor<f32>, tensor<i32>
  return %lq : tensor<1x2xf32>
}

// An evaluation function whose observer still runs (PyTorch's .eval()
// leaves FakeQuantize observing) and returns the new range as state: the
// int8 function freezes the observer (the state's range chooses the scale)
// and returns only the output.
// OBSERVING-LABEL: func @observing_int8
// OBSERVING-SAME:    (%[[X:[a-z0-9]+]]: tensor<2x4xf32> {qat.input = "x"}, %[[MIN:[a-z0-9]+]]: tensor<f32> {qat.state = "min"}, %[[MAX:[a-z0-9]+]]: tensor<f32> {qat.state = "max"})
// OBSERVING-SAME:    -> (tensor<2x4xf32> {qat.output = "y"})
// OBSERVING-NOT:     qat.observe
// OBSERVING:         %[[S:.*]], %[[Z:.*]] = qat.choose_qparams affine %[[MIN]], %[[MAX]] to ui8[0 : 255]
// OBSERVING:         %[[Q:.*]] = qat.quantize %[[X]], %[[S]], %[[Z]] to ui8[0 : 255]
// OBSERVING:         %[[Y:.*]] = qat.dequantize %[[Q]], %[[S]], %[[Z]]
// OBSERVING:         return %[[Y]] : tensor<2x4xf32>
func.func @observing(%x: tensor<2x4xf32> {qat.input = "x"}, %min: tensor<f32> {qat.state = "min"}, %max: tensor<f32> {qat.state = "max"}) -> (tensor<2x4xf32> {qat.output = "y"}, tensor<f32> {qat.state = "min"}, tensor<f32> {qat.state = "max"}) {
  %new_min, %new_max = qat.observe_moving_average_min_max %x, %min, %max averaging_constant 0.01 : tensor<2x4xf32>, tensor<f32>
  %s, %z = qat.choose_qparams affine %new_min, %new_max to ui8[0 : 255] : tensor<f32>
  %y = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<2x4xf32>, tensor<f32>, tensor<i32>
  return %y, %new_min, %new_max : tensor<2x4xf32>, tensor<f32>, tensor<f32>
}
