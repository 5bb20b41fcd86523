// RUN: qat-opt --qat-prepare --split-input-file %s | FileCheck %s
// RUN: qat-opt "--qat-prepare=weights=per-channel activations=int8 freeze-bn-stats=true" --split-input-file %s | FileCheck %s --check-prefix=OPTS

// An imported fp32 model (qat-import --mode train of conv(bias) + BN +
// ReLU6, a residual add with ReLU, and a linear layer).

// New state: observer ranges start empty (+inf/-inf), with globals.
// CHECK-DAG:   ml_program.global private mutable @quant.x.activation_post_process.min_val(dense<0x7F800000> : tensor<f32>)
// CHECK-DAG:   ml_program.global private mutable @quant.x.activation_post_process.max_val(dense<0xFF800000> : tensor<f32>)
// CHECK-DAG:   ml_program.global private mutable @conv.weight_fake_quant.scale(dense<1.000000e+00> : tensor<f32>)
// CHECK-DAG:   ml_program.global private mutable @add_0.activation_post_process.zero_point(dense<0> : tensor<i32>)

// CHECK-LABEL: func.func @forward(
// CHECK-SAME:    %[[W:[a-z0-9]+]]: tensor<2x2x1x1xf32> {qat.state = "conv.weight", qat.trainable}
// CHECK-SAME:    %[[BIAS:[a-z0-9]+]]: tensor<2xf32> {qat.state = "conv.bias", qat.trainable}
// CHECK-SAME:    %[[GAMMA:[a-z0-9]+]]: tensor<2xf32> {qat.state = "bn.weight", qat.trainable}
// CHECK-SAME:    %[[VAR:[a-z0-9]+]]: tensor<2xf32> {qat.state = "bn.running_var"}
// CHECK-SAME:    %[[FCW:[a-z0-9]+]]: tensor<3x8xf32> {qat.state = "fc.weight", qat.trainable}
// CHECK-SAME:    %[[XMIN:[a-z0-9]+]]: tensor<f32> {qat.state = "quant.x.activation_post_process.min_val"}
// CHECK-SAME:    %[[XMAX:[a-z0-9]+]]: tensor<f32> {qat.state = "quant.x.activation_post_process.max_val"}
// CHECK-SAME:    {qat.state = "add_0.activation_post_process.max_val"}
// CHECK-SAME:    %[[X:[a-z0-9]+]]: tensor<2x2x2x2xf32> {qat.input = "x"})
// CHECK-SAME:    tensor<f32> {qat.state = "fc.activation_post_process.scale"}, tensor<i32> {qat.state = "fc.activation_post_process.zero_point"})
// The input (QuantStub).
// CHECK:         %[[XLO:.*]], %[[XHI:.*]] = qat.observe_moving_average_min_max %[[X]], %[[XMIN]], %[[XMAX]] averaging_constant 0.00999999977
// CHECK:         %[[XS:.*]], %[[XZ:.*]] = qat.choose_qparams affine %[[XLO]], %[[XHI]] to ui8[0 : 255] using fake_quant_kernel
// CHECK:         %[[XQ:.*]] = qat.fake_quant %[[X]], %[[XS]], %[[XZ]] to ui8[0 : 255]
// Conv+BN in PyTorch's QAT form: weight * gamma / sqrt(var + eps), fake
// quantized; conv / factor + bias; batch norm on the batch.
// CHECK:         %[[EPS:.*]] = "tosa.const"() <{values = dense<9.99999974E-6> : tensor<1xf32>}>
// CHECK:         %[[VE:.*]] = tosa.add %[[VAR]], %[[EPS]]
// CHECK:         %[[STD:.*]] = math.sqrt %[[VE]]
// CHECK:         %[[INV:.*]] = tosa.reciprocal %[[STD]]
// CHECK:         %[[FACTOR:.*]] = tosa.mul %[[GAMMA]], %[[INV]]
// CHECK:         %[[F4:.*]] = tosa.reshape %[[FACTOR]], %{{.*}} -> tensor<2x1x1x1xf32>
// CHECK:         %[[SW:.*]] = tosa.mul %[[W]], %[[F4]]
// CHECK:         qat.observe_moving_average_min_max %[[SW]]
// CHECK:         qat.choose_qparams symmetric %{{.*}} to si8[-128 : 127] using fake_quant_kernel
// CHECK:         %[[WQ:.*]] = qat.fake_quant %[[SW]], %{{.*}} to si8[-128 : 127]
// CHECK:         %[[CONV:.*]] = linalg.conv_2d_nchw_fchw {{.*}} ins(%[[XQ]], %[[WQ]] :
// CHECK:         %[[BV:.*]] = tosa.reshape %[[BIAS]]
// CHECK:         %[[FC:.*]] = tosa.reshape %[[FACTOR]], %{{.*}} -> tensor<1x2x1x1xf32>
// CHECK:         %[[RF:.*]] = tosa.reciprocal %[[FC]]
// CHECK:         %[[ORIG:.*]] = tosa.mul %[[CONV]], %[[RF]]
// CHECK:         %[[ORIGB:.*]] = tosa.add %[[ORIG]], %[[BV]]
// CHECK:         %[[BN:.*]], %{{.*}}, %{{.*}} = qat.batch_norm %[[ORIGB]], %[[GAMMA]], {{.*}} training
// CHECK:         %[[RELU6:.*]] = tosa.clamp %[[BN]] {max_val = 6.000000e+00 : f32
// CHECK:         qat.observe_moving_average_min_max %[[RELU6]]
// CHECK:         %[[A:.*]] = qat.fake_quant %[[RELU6]]
// The residual add with its ReLU.
// CHECK:         %[[ADD:.*]] = tosa.add %[[XQ]], %[[A]]
// CHECK:         %[[RELU:.*]] = tosa.clamp %[[ADD]]
// CHECK:         qat.observe_moving_average_min_max %[[RELU]]
// CHECK:         %[[AQ:.*]] = qat.fake_quant %[[RELU]]
// CHECK:         %[[FLAT:.*]] = tosa.reshape %[[AQ]]
// The linear layer.
// CHECK:         qat.observe_moving_average_min_max %[[FCW]]
// CHECK:         %[[FCWQ:.*]] = qat.fake_quant %[[FCW]]
// CHECK:         tosa.transpose %[[FCWQ]]
// CHECK:         tosa.matmul
// CHECK:         %[[LOGITS:.*]] = tosa.add
// CHECK:         qat.observe_moving_average_min_max %[[LOGITS]]
// CHECK:         %[[OUT:.*]] = qat.fake_quant %[[LOGITS]]
// CHECK:         return %[[OUT]],

// The caller loads the new state and stores its updates.
// CHECK-LABEL: func.func @predict(
// CHECK:         ml_program.global_load @quant.x.activation_post_process.min_val
// CHECK:         call @forward(
// CHECK:         ml_program.global_store @quant.x.activation_post_process.min_val

// Evaluation: the stored scales and zero-points, no observers.
// CHECK-LABEL: func.func @forward_eval(
// CHECK-SAME:    %[[S:[a-z0-9]+]]: tensor<f32> {qat.state = "quant.x.activation_post_process.scale"}, %[[Z:[a-z0-9]+]]: tensor<i32> {qat.state = "quant.x.activation_post_process.zero_point"}
// CHECK-NOT:     qat.observe
// CHECK:         qat.fake_quant %{{.*}}, %[[S]], %[[Z]] to ui8[0 : 255]
// CHECK:         qat.batch_norm {{.*}} epsilon
// CHECK-NOT:     qat.observe
// CHECK:         return

// Per-channel int8 weights, int8 activations, frozen batch norm.
// OPTS-LABEL: func.func @forward(
// OPTS-SAME:    tensor<2xf32> {qat.state = "conv.weight_fake_quant.min_val"}
// OPTS:         qat.choose_qparams affine %{{.*}} to si8[-128 : 127] using fake_quant_kernel : tensor<f32>
// OPTS:         qat.observe_moving_average_min_max %{{.*}} averaging_constant 0.00999999977 axis 0 : tensor<2x2x1x1xf32>, tensor<2xf32>
// OPTS:         qat.choose_qparams symmetric %{{.*}} to si8[-128 : 127] using fake_quant_kernel : tensor<2xf32>
// OPTS:         qat.fake_quant %{{.*}} to si8[-128 : 127] axis 0 : tensor<2x2x1x1xf32>, tensor<2xf32>, tensor<2xi32>
// OPTS:         qat.batch_norm {{.*}} epsilon 9.99999974E-6 momentum
module {
  ml_program.global private @conv.weight(dense<[[[[-0.0883913785]], [[0.1318468]]], [[[-0.162038282]], [[0.440026671]]]]> : tensor<2x2x1x1xf32>) : tensor<2x2x1x1xf32>
  ml_program.global private @conv.bias(dense<[-0.70048052, -0.137765065]> : tensor<2xf32>) : tensor<2xf32>
  ml_program.global private @bn.weight(dense<1.000000e+00> : tensor<2xf32>) : tensor<2xf32>
  ml_program.global private @bn.bias(dense<0.000000e+00> : tensor<2xf32>) : tensor<2xf32>
  ml_program.global private mutable @bn.running_mean(dense<[-0.0785167068, -0.037400078]> : tensor<2xf32>) : tensor<2xf32>
  ml_program.global private mutable @bn.running_var(dense<[0.901088476, 0.906973838]> : tensor<2xf32>) : tensor<2xf32>
  ml_program.global private mutable @bn.num_batches_tracked(dense<1> : tensor<i64>) : tensor<i64>
  ml_program.global private @fc.weight(dense<[[-0.346860677, 0.228621483, 0.303322345, 0.260962605, 0.173728973, 0.114493638, 0.318777233, -0.0467808098], [-0.335116655, 0.0157890096, -0.281073153, -0.175368652, -0.0391510911, -0.00613025902, 0.205001295, -0.305840969], [-0.0320227519, 0.329186976, 0.00640050462, 0.256584436, 0.0990349799, -0.0512618609, -0.315627426, 0.345976979]]> : tensor<3x8xf32>) : tensor<3x8xf32>
  ml_program.global private @fc.bias(dense<[0.223940238, -0.347949803, 0.126154914]> : tensor<3xf32>) : tensor<3xf32>
  func.func @forward(%arg0: tensor<2x2x1x1xf32> {qat.state = "conv.weight", qat.trainable}, %arg1: tensor<2xf32> {qat.state = "conv.bias", qat.trainable}, %arg2: tensor<2xf32> {qat.state = "bn.weight", qat.trainable}, %arg3: tensor<2xf32> {qat.state = "bn.bias", qat.trainable}, %arg4: tensor<2xf32> {qat.state = "bn.running_mean"}, %arg5: tensor<2xf32> {qat.state = "bn.running_var"}, %arg6: tensor<i64> {qat.state = "bn.num_batches_tracked"}, %arg7: tensor<3x8xf32> {qat.state = "fc.weight", qat.trainable}, %arg8: tensor<3xf32> {qat.state = "fc.bias", qat.trainable}, %arg9: tensor<2x2x2x2xf32> {qat.input = "x"}) -> (tensor<2x3xf32>, tensor<2xf32> {qat.state = "bn.running_mean"}, tensor<2xf32> {qat.state = "bn.running_var"}, tensor<i64> {qat.state = "bn.num_batches_tracked"}) {
    %0 = tensor.empty() : tensor<2x2x2x2xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
    %2 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%arg9, %arg0 : tensor<2x2x2x2xf32>, tensor<2x2x1x1xf32>) outs(%1 : tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
    %3 = tosa.const_shape  {values = dense<[1, 2, 1, 1]> : tensor<4xindex>} : () -> !tosa.shape<4>
    %4 = tosa.reshape %arg1, %3 : (tensor<2xf32>, !tosa.shape<4>) -> tensor<1x2x1x1xf32>
    %5 = tosa.add %2, %4 : (tensor<2x2x2x2xf32>, tensor<1x2x1x1xf32>) -> tensor<2x2x2x2xf32>
    %cst_0 = arith.constant dense<1> : tensor<i64>
    %6 = arith.addi %arg6, %cst_0 : tensor<i64>
    %output, %new_running_mean, %new_running_var = qat.batch_norm %5, %arg2, %arg3, %arg4, %arg5 training epsilon 9.99999974E-6 momentum 1.000000e-01 : tensor<2x2x2x2xf32>, tensor<2xf32>
    %7 = tosa.clamp %output {max_val = 6.000000e+00 : f32, min_val = 0.000000e+00 : f32} : (tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
    %8 = tosa.add %arg9, %7 : (tensor<2x2x2x2xf32>, tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
    %9 = tosa.clamp %8 {max_val = 0x7F800000 : f32, min_val = 0.000000e+00 : f32} : (tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
    %10 = tosa.const_shape  {values = dense<[2, 8]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %11 = tosa.reshape %9, %10 : (tensor<2x2x2x2xf32>, !tosa.shape<2>) -> tensor<2x8xf32>
    %12 = tosa.transpose %arg7 {perms = array<i32: 1, 0>} : (tensor<3x8xf32>) -> tensor<8x3xf32>
    %13 = tosa.const_shape  {values = dense<[1, 2, 8]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %14 = tosa.reshape %11, %13 : (tensor<2x8xf32>, !tosa.shape<3>) -> tensor<1x2x8xf32>
    %15 = tosa.const_shape  {values = dense<[1, 8, 3]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %16 = tosa.reshape %12, %15 : (tensor<8x3xf32>, !tosa.shape<3>) -> tensor<1x8x3xf32>
    %17 = "tosa.const"() <{values = dense<0.000000e+00> : tensor<1xf32>}> : () -> tensor<1xf32>
    %18 = "tosa.const"() <{values = dense<0.000000e+00> : tensor<1xf32>}> : () -> tensor<1xf32>
    %19 = tosa.matmul %14, %16, %17, %18 : (tensor<1x2x8xf32>, tensor<1x8x3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x3xf32>
    %20 = tosa.const_shape  {values = dense<[2, 3]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %21 = tosa.reshape %19, %20 : (tensor<1x2x3xf32>, !tosa.shape<2>) -> tensor<2x3xf32>
    %22 = tosa.const_shape  {values = dense<[1, 3]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %23 = tosa.reshape %arg8, %22 : (tensor<3xf32>, !tosa.shape<2>) -> tensor<1x3xf32>
    %24 = tosa.add %21, %23 : (tensor<2x3xf32>, tensor<1x3xf32>) -> tensor<2x3xf32>
    return %24, %new_running_mean, %new_running_var, %6 : tensor<2x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<i64>
  }
  func.func @predict(%arg0: tensor<2x2x2x2xf32>) -> tensor<2x3xf32> {
    %conv.weight = ml_program.global_load @conv.weight : tensor<2x2x1x1xf32>
    %conv.bias = ml_program.global_load @conv.bias : tensor<2xf32>
    %bn.weight = ml_program.global_load @bn.weight : tensor<2xf32>
    %bn.bias = ml_program.global_load @bn.bias : tensor<2xf32>
    %bn.running_mean = ml_program.global_load @bn.running_mean : tensor<2xf32>
    %bn.running_var = ml_program.global_load @bn.running_var : tensor<2xf32>
    %bn.num_batches_tracked = ml_program.global_load @bn.num_batches_tracked : tensor<i64>
    %fc.weight = ml_program.global_load @fc.weight : tensor<3x8xf32>
    %fc.bias = ml_program.global_load @fc.bias : tensor<3xf32>
    %0:4 = call @forward(%conv.weight, %conv.bias, %bn.weight, %bn.bias, %bn.running_mean, %bn.running_var, %bn.num_batches_tracked, %fc.weight, %fc.bias, %arg0) : (tensor<2x2x1x1xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<i64>, tensor<3x8xf32>, tensor<3xf32>, tensor<2x2x2x2xf32>) -> (tensor<2x3xf32>, tensor<2xf32>, tensor<2xf32>, tensor<i64>)
    ml_program.global_store @bn.running_mean = %0#1 : tensor<2xf32>
    ml_program.global_store @bn.running_var = %0#2 : tensor<2xf32>
    ml_program.global_store @bn.num_batches_tracked = %0#3 : tensor<i64>
    return %0#0 : tensor<2x3xf32>
  }
  func.func @forward_eval(%arg0: tensor<2x2x1x1xf32> {qat.state = "conv.weight", qat.trainable}, %arg1: tensor<2xf32> {qat.state = "conv.bias", qat.trainable}, %arg2: tensor<2xf32> {qat.state = "bn.weight", qat.trainable}, %arg3: tensor<2xf32> {qat.state = "bn.bias", qat.trainable}, %arg4: tensor<2xf32> {qat.state = "bn.running_mean"}, %arg5: tensor<2xf32> {qat.state = "bn.running_var"}, %arg6: tensor<i64> {qat.state = "bn.num_batches_tracked"}, %arg7: tensor<3x8xf32> {qat.state = "fc.weight", qat.trainable}, %arg8: tensor<3xf32> {qat.state = "fc.bias", qat.trainable}, %arg9: tensor<2x2x2x2xf32> {qat.input = "x"}) -> (tensor<2x3xf32>, tensor<i64> {qat.state = "bn.num_batches_tracked"}) {
    %0 = tensor.empty() : tensor<2x2x2x2xf32>
    %cst = arith.constant 0.000000e+00 : f32
    %1 = linalg.fill ins(%cst : f32) outs(%0 : tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
    %2 = linalg.conv_2d_nchw_fchw {dilations = dense<1> : tensor<2xi64>, strides = dense<1> : tensor<2xi64>} ins(%arg9, %arg0 : tensor<2x2x2x2xf32>, tensor<2x2x1x1xf32>) outs(%1 : tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
    %3 = tosa.const_shape  {values = dense<[1, 2, 1, 1]> : tensor<4xindex>} : () -> !tosa.shape<4>
    %4 = tosa.reshape %arg1, %3 : (tensor<2xf32>, !tosa.shape<4>) -> tensor<1x2x1x1xf32>
    %5 = tosa.add %2, %4 : (tensor<2x2x2x2xf32>, tensor<1x2x1x1xf32>) -> tensor<2x2x2x2xf32>
    %cst_0 = arith.constant dense<1> : tensor<i64>
    %6 = arith.addi %arg6, %cst_0 : tensor<i64>
    %output, %new_running_mean, %new_running_var = qat.batch_norm %5, %arg2, %arg3, %arg4, %arg5 epsilon 9.99999974E-6 momentum 1.000000e-01 : tensor<2x2x2x2xf32>, tensor<2xf32>
    %7 = tosa.clamp %output {max_val = 6.000000e+00 : f32, min_val = 0.000000e+00 : f32} : (tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
    %8 = tosa.add %arg9, %7 : (tensor<2x2x2x2xf32>, tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
    %9 = tosa.clamp %8 {max_val = 0x7F800000 : f32, min_val = 0.000000e+00 : f32} : (tensor<2x2x2x2xf32>) -> tensor<2x2x2x2xf32>
    %10 = tosa.const_shape  {values = dense<[2, 8]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %11 = tosa.reshape %9, %10 : (tensor<2x2x2x2xf32>, !tosa.shape<2>) -> tensor<2x8xf32>
    %12 = tosa.transpose %arg7 {perms = array<i32: 1, 0>} : (tensor<3x8xf32>) -> tensor<8x3xf32>
    %13 = tosa.const_shape  {values = dense<[1, 2, 8]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %14 = tosa.reshape %11, %13 : (tensor<2x8xf32>, !tosa.shape<3>) -> tensor<1x2x8xf32>
    %15 = tosa.const_shape  {values = dense<[1, 8, 3]> : tensor<3xindex>} : () -> !tosa.shape<3>
    %16 = tosa.reshape %12, %15 : (tensor<8x3xf32>, !tosa.shape<3>) -> tensor<1x8x3xf32>
    %17 = "tosa.const"() <{values = dense<0.000000e+00> : tensor<1xf32>}> : () -> tensor<1xf32>
    %18 = "tosa.const"() <{values = dense<0.000000e+00> : tensor<1xf32>}> : () -> tensor<1xf32>
    %19 = tosa.matmul %14, %16, %17, %18 : (tensor<1x2x8xf32>, tensor<1x8x3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1x2x3xf32>
    %20 = tosa.const_shape  {values = dense<[2, 3]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %21 = tosa.reshape %19, %20 : (tensor<1x2x3xf32>, !tosa.shape<2>) -> tensor<2x3xf32>
    %22 = tosa.const_shape  {values = dense<[1, 3]> : tensor<2xindex>} : () -> !tosa.shape<2>
    %23 = tosa.reshape %arg8, %22 : (tensor<3xf32>, !tosa.shape<2>) -> tensor<1x3xf32>
    %24 = tosa.add %21, %23 : (tensor<2x3xf32>, tensor<1x3xf32>) -> tensor<2x3xf32>
    return %24, %6 : tensor<2x3xf32>, tensor<i64>
  }
}
