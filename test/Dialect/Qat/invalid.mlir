// RUN: qat-opt %s -split-input-file -verify-diagnostics

func.func @fake_quant_non_float(%x: tensor<4xi32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit float values}}
  %0 = "qat.fake_quant"(%x, %s, %z) {storage_type = i8, quant_min = -128 : i64, quant_max = 127 : i64}
      : (tensor<4xi32>, tensor<f32>, tensor<i32>) -> tensor<4xi32>
  return
}

// -----

func.func @fake_quant_result_type(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{failed to verify that all of {input, output} have same type}}
  %0 = "qat.fake_quant"(%x, %s, %z) {storage_type = i8, quant_min = -128 : i64, quant_max = 127 : i64}
      : (tensor<4xf32>, tensor<f32>, tensor<i32>) -> tensor<5xf32>
  return
}

// -----

func.func @fake_quant_storage_not_integer(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{attribute 'storage_type' failed to satisfy constraint: type attribute of integer}}
  %0 = "qat.fake_quant"(%x, %s, %z) {storage_type = f32, quant_min = -128 : i64, quant_max = 127 : i64}
      : (tensor<4xf32>, tensor<f32>, tensor<i32>) -> tensor<4xf32>
  return
}

// -----

func.func @fake_quant_storage_too_wide(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{storage type must be an integer type of 1 to 8 bits, got 'i16'}}
  %0 = qat.fake_quant %x, %s, %z to i16[-128 : 127] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return
}

// -----

func.func @fake_quant_storage_zero_width(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{storage type must be an integer type of 1 to 8 bits, got 'i0'}}
  %0 = qat.fake_quant %x, %s, %z to i0[0 : 1] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return
}

// -----

func.func @fake_quant_empty_range(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{quant_min (5) must be less than quant_max (5)}}
  %0 = qat.fake_quant %x, %s, %z to i8[5 : 5] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return
}

// -----

func.func @fake_quant_range_outside_unsigned(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{range [-128, 127] does not fit storage type 'ui8' ([0, 255])}}
  %0 = qat.fake_quant %x, %s, %z to ui8[-128 : 127] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return
}

// -----

func.func @fake_quant_range_outside_signed(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{range [0, 255] does not fit storage type 'i8' ([-128, 127])}}
  %0 = qat.fake_quant %x, %s, %z to i8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return
}

// -----

func.func @fake_quant_range_outside_4bit(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{range [0, 16] does not fit storage type 'ui4' ([0, 15])}}
  %0 = qat.fake_quant %x, %s, %z to ui4[0 : 16] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return
}

// -----

func.func @fake_quant_axis_too_large(%x: tensor<4x3xf32>, %s: tensor<3xf32>, %z: tensor<3xi32>) {
  // expected-error @+1 {{axis 2 is out of range for an input of rank 2}}
  %0 = qat.fake_quant %x, %s, %z to i8[-128 : 127] axis 2 : tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32>
  return
}

// -----

func.func @fake_quant_axis_negative(%x: tensor<4x3xf32>, %s: tensor<3xf32>, %z: tensor<3xi32>) {
  // expected-error @+1 {{axis -1 is out of range for an input of rank 2}}
  %0 = qat.fake_quant %x, %s, %z to i8[-128 : 127] axis -1 : tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32>
  return
}

// -----

func.func @fake_quant_per_tensor_scale_shape(%x: tensor<4x3xf32>, %s: tensor<3xf32>, %z: tensor<i32>) {
  // expected-error @+1 {{scale must be a 0-d tensor when no axis is given, got 'tensor<3xf32>'}}
  %0 = qat.fake_quant %x, %s, %z to i8[-128 : 127] : tensor<4x3xf32>, tensor<3xf32>, tensor<i32>
  return
}

// -----

func.func @fake_quant_per_tensor_zero_point_shape(%x: tensor<4x3xf32>, %s: tensor<f32>, %z: tensor<1xi32>) {
  // expected-error @+1 {{zero_point must be a 0-d tensor when no axis is given, got 'tensor<1xi32>'}}
  %0 = qat.fake_quant %x, %s, %z to i8[-128 : 127] : tensor<4x3xf32>, tensor<f32>, tensor<1xi32>
  return
}

// -----

func.func @fake_quant_per_axis_scale_rank(%x: tensor<4x3xf32>, %s: tensor<f32>, %z: tensor<3xi32>) {
  // expected-error @+1 {{scale must be a 1-d tensor when an axis is given, got 'tensor<f32>'}}
  %0 = qat.fake_quant %x, %s, %z to i8[-128 : 127] axis 1 : tensor<4x3xf32>, tensor<f32>, tensor<3xi32>
  return
}

// -----

func.func @fake_quant_per_axis_scale_size(%x: tensor<4x3xf32>, %s: tensor<4xf32>, %z: tensor<3xi32>) {
  // expected-error @+1 {{scale has 4 entries but dimension 1 of the input has 3}}
  %0 = qat.fake_quant %x, %s, %z to i8[-128 : 127] axis 1 : tensor<4x3xf32>, tensor<4xf32>, tensor<3xi32>
  return
}

// -----

func.func @fake_quant_per_axis_zero_point_size(%x: tensor<4x3xf32>, %s: tensor<4xf32>, %z: tensor<3xi32>) {
  // expected-error @+1 {{zero_point has 3 entries but dimension 0 of the input has 4}}
  %0 = qat.fake_quant %x, %s, %z to i8[-128 : 127] axis 0 : tensor<4x3xf32>, tensor<4xf32>, tensor<3xi32>
  return
}

// -----

func.func @fake_quant_zero_point_element_type(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i64>) {
  // expected-error @+1 {{operand #2 must be ranked tensor of 32-bit signless integer values}}
  %0 = "qat.fake_quant"(%x, %s, %z) {storage_type = i8, quant_min = -128 : i64, quant_max = 127 : i64}
      : (tensor<4xf32>, tensor<f32>, tensor<i64>) -> tensor<4xf32>
  return
}

// -----

func.func @fake_quant_negative_constant_scale(%x: tensor<4x2xf32>, %z: tensor<2xi32>) {
  %s = arith.constant dense<[1.0, -0.5]> : tensor<2xf32>
  // expected-error @+1 {{scale must be positive and finite, got -5.000000e-01 at index 1}}
  %0 = qat.fake_quant %x, %s, %z to i8[-128 : 127] axis 1 : tensor<4x2xf32>, tensor<2xf32>, tensor<2xi32>
  return
}

// -----

func.func @fake_quant_zero_constant_scale(%x: tensor<4xf32>, %z: tensor<i32>) {
  %s = arith.constant dense<0.0> : tensor<f32>
  // expected-error @+1 {{scale must be positive and finite, got 0.000000e+00 at index 0}}
  %0 = qat.fake_quant %x, %s, %z to i8[-128 : 127] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return
}

// -----

func.func @fake_quant_infinite_constant_scale(%x: tensor<4xf32>, %z: tensor<i32>) {
  %s = arith.constant dense<0x7F800000> : tensor<f32>
  // expected-error @+1 {{scale must be positive and finite, got INF at index 0}}
  %0 = qat.fake_quant %x, %s, %z to i8[-128 : 127] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return
}

// -----

func.func @fake_quant_constant_zero_point_outside(%x: tensor<4xf32>, %s: tensor<f32>) {
  %z = arith.constant dense<-1> : tensor<i32>
  // expected-error @+1 {{zero_point -1 at index 0 is outside [0, 255]}}
  %0 = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32>
  return
}

// -----

func.func @fake_quant_mask_result_type(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{failed to verify that mask has the shape of input and i1 elements}}
  %0 = "qat.fake_quant_mask"(%x, %s, %z) {storage_type = i8, quant_min = -128 : i64, quant_max = 127 : i64}
      : (tensor<4xf32>, tensor<f32>, tensor<i32>) -> tensor<5xi1>
  return
}

// -----

func.func @fake_quant_mask_verifies_like_fake_quant(%x: tensor<4x3xf32>, %s: tensor<3xf32>, %z: tensor<3xi32>) {
  // expected-error @+1 {{'qat.fake_quant_mask' op axis 2 is out of range for an input of rank 2}}
  %0 = qat.fake_quant_mask %x, %s, %z to i8[-128 : 127] axis 2 : tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32>
  return
}

// -----

func.func @observer_axis(%x: tensor<4x3xf32>, %min: tensor<3xf32>, %max: tensor<3xf32>) {
  // expected-error @+1 {{'qat.observe_min_max' op axis 5 is out of range for an input of rank 2}}
  %0:2 = qat.observe_min_max %x, %min, %max axis 5 : tensor<4x3xf32>, tensor<3xf32>
  return
}

// -----

func.func @observer_per_tensor_state(%x: tensor<4x3xf32>, %min: tensor<3xf32>, %max: tensor<3xf32>) {
  // expected-error @+1 {{min/max state must be a 0-d tensor when no axis is given, got 'tensor<3xf32>'}}
  %0:2 = qat.observe_min_max %x, %min, %max : tensor<4x3xf32>, tensor<3xf32>
  return
}

// -----

func.func @observer_per_axis_state_rank(%x: tensor<4x3xf32>, %min: tensor<f32>, %max: tensor<f32>) {
  // expected-error @+1 {{min/max state must be a 1-d tensor when an axis is given, got 'tensor<f32>'}}
  %0:2 = qat.observe_moving_average_min_max %x, %min, %max averaging_constant 0.01 axis 0
      : tensor<4x3xf32>, tensor<f32>
  return
}

// -----

func.func @observer_per_axis_state_size(%x: tensor<4x3xf32>, %min: tensor<3xf32>, %max: tensor<3xf32>) {
  // expected-error @+1 {{min/max state has 3 entries but dimension 0 of the input has 4}}
  %0:2 = qat.observe_min_max %x, %min, %max axis 0 : tensor<4x3xf32>, tensor<3xf32>
  return
}

// -----

func.func @observer_state_types(%x: tensor<4xf32>, %min: tensor<f32>, %max: tensor<1xf32>) {
  // expected-error @+1 {{failed to verify that all of {min, max, new_min, new_max} have same type}}
  %0:2 = "qat.observe_min_max"(%x, %min, %max) : (tensor<4xf32>, tensor<f32>, tensor<1xf32>) -> (tensor<f32>, tensor<f32>)
  return
}

// -----

func.func @observer_averaging_constant_zero(%x: tensor<4xf32>, %min: tensor<f32>, %max: tensor<f32>) {
  // expected-error @+1 {{averaging_constant must be in (0, 1], got 0}}
  %0:2 = qat.observe_moving_average_min_max %x, %min, %max averaging_constant 0.0 : tensor<4xf32>, tensor<f32>
  return
}

// -----

func.func @observer_averaging_constant_above_one(%x: tensor<4xf32>, %min: tensor<f32>, %max: tensor<f32>) {
  // expected-error @+1 {{averaging_constant must be in (0, 1], got 1.5}}
  %0:2 = qat.observe_moving_average_min_max %x, %min, %max averaging_constant 1.5 : tensor<4xf32>, tensor<f32>
  return
}

// -----

func.func @choose_qparams_eps(%min: tensor<f32>, %max: tensor<f32>) {
  // expected-error @+1 {{eps must be positive and finite, got 0}}
  %s, %z = qat.choose_qparams affine %min, %max to ui8[0 : 255] {eps = 0.0 : f32} : tensor<f32>
  return
}

// -----

func.func @choose_qparams_range(%min: tensor<f32>, %max: tensor<f32>) {
  // expected-error @+1 {{'qat.choose_qparams' op range [-1, 255] does not fit storage type 'ui8' ([0, 255])}}
  %s, %z = qat.choose_qparams symmetric %min, %max to ui8[-1 : 255] : tensor<f32>
  return
}

// -----

func.func @choose_qparams_zero_point_type(%min: tensor<3xf32>, %max: tensor<3xf32>) {
  // expected-error @+1 {{failed to verify that zero_point has the shape of min and i32 elements}}
  %0:2 = "qat.choose_qparams"(%min, %max) {scheme = 0 : i32, storage_type = ui8, quant_min = 0 : i64, quant_max = 255 : i64}
      : (tensor<3xf32>, tensor<3xf32>) -> (tensor<3xf32>, tensor<2xi32>)
  return
}

// -----

func.func @choose_qparams_min_max_types(%min: tensor<3xf32>, %max: tensor<f32>) {
  // expected-error @+1 {{failed to verify that all of {min, max, scale} have same type}}
  %0:2 = "qat.choose_qparams"(%min, %max) {scheme = 1 : i32, storage_type = i8, quant_min = -128 : i64, quant_max = 127 : i64}
      : (tensor<3xf32>, tensor<f32>) -> (tensor<3xf32>, tensor<3xi32>)
  return
}

// -----

func.func @fake_quant_mask_element_type(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{result #0 must be ranked tensor of 1-bit signless integer values}}
  %0 = "qat.fake_quant_mask"(%x, %s, %z) {storage_type = i8, quant_min = -128 : i64, quant_max = 127 : i64}
      : (tensor<4xf32>, tensor<f32>, tensor<i32>) -> tensor<4xi8>
  return
}

// -----

func.func @dropout_probability_one(%x: tensor<4xf32>, %seed: tensor<i64>) {
  // expected-error @+1 {{probability must be in [0, 1), got 1}}
  %0 = qat.dropout %x, %seed stream 0 probability 1.0 : tensor<4xf32>, tensor<i64>
  return
}

// -----

func.func @dropout_probability_negative(%x: tensor<4xf32>, %seed: tensor<i64>) {
  // expected-error @+1 {{probability must be in [0, 1), got -5.000000e-01}}
  %0 = qat.dropout %x, %seed stream 0 probability -0.5 : tensor<4xf32>, tensor<i64>
  return
}

// -----

func.func @dropout_seed_type(%x: tensor<4xf32>, %seed: tensor<1xi64>) {
  // expected-error @+1 {{operand #1 must be 0D tensor of 64-bit signless integer values}}
  %0 = "qat.dropout"(%x, %seed) {stream = 0 : i64, probability = 0.5 : f32} : (tensor<4xf32>, tensor<1xi64>) -> tensor<4xf32>
  return
}

// -----

func.func @softmax_cross_entropy_logits_rank(%logits: tensor<4x10x2xf32>, %labels: tensor<4xi64>) {
  // expected-error @+1 {{logits must be a rank-2 tensor (rows x classes), got 'tensor<4x10x2xf32>'}}
  %0 = qat.softmax_cross_entropy %logits, %labels : tensor<4x10x2xf32>, tensor<4xi64> -> tensor<f32>
  return
}

// -----

func.func @softmax_cross_entropy_labels_rank(%logits: tensor<4x10xf32>, %labels: tensor<4x1xi64>) {
  // expected-error @+1 {{labels must be a rank-1 tensor (one per row), got 'tensor<4x1xi64>'}}
  %0 = qat.softmax_cross_entropy %logits, %labels : tensor<4x10xf32>, tensor<4x1xi64> -> tensor<f32>
  return
}

// -----

func.func @softmax_cross_entropy_rows(%logits: tensor<4x10xf32>, %labels: tensor<3xi64>) {
  // expected-error @+1 {{has 4 rows of logits but 3 labels}}
  %0 = qat.softmax_cross_entropy %logits, %labels : tensor<4x10xf32>, tensor<3xi64> -> tensor<f32>
  return
}

// -----

func.func @softmax_cross_entropy_float_labels(%logits: tensor<4x10xf32>, %labels: tensor<4xf32>) {
  // expected-error @+1 {{operand #1 must be ranked tensor of signless integer values}}
  %0 = "qat.softmax_cross_entropy"(%logits, %labels) : (tensor<4x10xf32>, tensor<4xf32>) -> tensor<f32>
  return
}

// -----

func.func @softmax_cross_entropy_result(%logits: tensor<4x10xf32>, %labels: tensor<4xi64>) {
  // expected-error @+1 {{result #0 must be 0D tensor of 32-bit float values}}
  %0 = "qat.softmax_cross_entropy"(%logits, %labels) : (tensor<4x10xf32>, tensor<4xi64>) -> tensor<1xf32>
  return
}

// -----

func.func @grad_boost_beta(%g: tensor<4xf32>, %t: tensor<i64>, %on: tensor<f32>) {
  // expected-error @+1 {{beta must be in [0, 1), got 1}}
  %0:3 = qat.grad_boost reference %g, %g, %g step %t qat_steps %t seed %t noise %on stream 0 {beta = 1.0 : f32, decay = 0.01 : f32, clip = 0.001 : f32, coin_probability = 0.5 : f32} : tensor<4xf32>
  return
}

// -----

func.func @grad_boost_decay(%g: tensor<4xf32>, %t: tensor<i64>, %on: tensor<f32>) {
  // expected-error @+1 {{decay must be in [0, 1), got -5.000000e-01}}
  %0:3 = qat.grad_boost reference %g, %g, %g step %t qat_steps %t seed %t noise %on stream 0 {beta = 0.9 : f32, decay = -0.5 : f32, clip = 0.001 : f32, coin_probability = 0.5 : f32} : tensor<4xf32>
  return
}

// -----

func.func @grad_boost_clip(%g: tensor<4xf32>, %t: tensor<i64>, %on: tensor<f32>) {
  // expected-error @+1 {{clip must be finite and not negative, got -1}}
  %0:3 = qat.grad_boost reference %g, %g, %g step %t qat_steps %t seed %t noise %on stream 0 {beta = 0.9 : f32, decay = 0.01 : f32, clip = -1.0 : f32, coin_probability = 0.5 : f32} : tensor<4xf32>
  return
}

// -----

func.func @grad_boost_coin_probability(%g: tensor<4xf32>, %t: tensor<i64>, %on: tensor<f32>) {
  // expected-error @+1 {{coin_probability must be in [0, 1], got 1.5}}
  %0:3 = qat.grad_boost reference %g, %g, %g step %t qat_steps %t seed %t noise %on stream 0 {beta = 0.9 : f32, decay = 0.01 : f32, clip = 0.001 : f32, coin_probability = 1.5 : f32} : tensor<4xf32>
  return
}

// -----

func.func @grad_boost_stat_type(%g: tensor<4xf32>, %s: tensor<5xf32>, %t: tensor<i64>, %on: tensor<f32>) {
  // expected-error @+1 {{all of {gradient, max_stat, min_stat, boosted_gradient, new_max_stat, new_min_stat} have same type}}
  %0:3 = "qat.grad_boost"(%g, %s, %g, %t, %t, %t, %on) {variant = 0 : i32, stream = 0 : i64, beta = 0.9 : f32, decay = 0.01 : f32, clip = 0.001 : f32, coin_probability = 0.5 : f32} : (tensor<4xf32>, tensor<5xf32>, tensor<4xf32>, tensor<i64>, tensor<i64>, tensor<i64>, tensor<f32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @grad_boost_step_type(%g: tensor<4xf32>, %t: tensor<i32>, %k: tensor<i64>, %on: tensor<f32>) {
  // expected-error @+1 {{operand #3 must be 0-d tensor of i64}}
  %0:3 = "qat.grad_boost"(%g, %g, %g, %t, %k, %k, %on) {variant = 0 : i32, stream = 0 : i64, beta = 0.9 : f32, decay = 0.01 : f32, clip = 0.001 : f32, coin_probability = 0.5 : f32} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<i32>, tensor<i64>, tensor<i64>, tensor<f32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @batch_norm_rank(%x: tensor<8xf32>, %c: tensor<8xf32>) {
  // expected-error @+1 {{input must have rank 2 or more (N x C x ...), got 'tensor<8xf32>'}}
  %0:3 = qat.batch_norm %x, %c, %c, %c, %c epsilon 1.0e-05 momentum 0.1 : tensor<8xf32>, tensor<8xf32>
  return
}

// -----

func.func @batch_norm_channels(%x: tensor<8x4x3x3xf32>, %c: tensor<5xf32>) {
  // expected-error @+1 {{input has 4 channels but the per-channel operands have 5 entries}}
  %0:3 = qat.batch_norm %x, %c, %c, %c, %c epsilon 1.0e-05 momentum 0.1 : tensor<8x4x3x3xf32>, tensor<5xf32>
  return
}

// -----

func.func @batch_norm_epsilon(%x: tensor<8x4xf32>, %c: tensor<4xf32>) {
  // expected-error @+1 {{epsilon must be finite and not negative, got -1}}
  %0:3 = qat.batch_norm %x, %c, %c, %c, %c epsilon -1.0 momentum 0.1 : tensor<8x4xf32>, tensor<4xf32>
  return
}

// -----

func.func @batch_norm_momentum(%x: tensor<8x4xf32>, %c: tensor<4xf32>) {
  // expected-error @+1 {{momentum must be in [0, 1], got 2}}
  %0:3 = qat.batch_norm %x, %c, %c, %c, %c epsilon 1.0e-05 momentum 2.0 : tensor<8x4xf32>, tensor<4xf32>
  return
}

// -----

func.func @batch_norm_one_value(%x: tensor<1x4x1x1xf32>, %c: tensor<4xf32>) {
  // expected-error @+1 {{in training mode needs more than one value per channel, got 'tensor<1x4x1x1xf32>'}}
  %0:3 = qat.batch_norm %x, %c, %c, %c, %c training epsilon 1.0e-05 momentum 0.1 : tensor<1x4x1x1xf32>, tensor<4xf32>
  return
}

// -----

func.func @batch_norm_stat_type(%x: tensor<8x4xf32>, %c: tensor<4xf32>, %d: tensor<3xf32>) {
  // expected-error @+1 {{all of {weight, bias, running_mean, running_var, new_running_mean, new_running_var} have same type}}
  %0:3 = "qat.batch_norm"(%x, %c, %c, %d, %c) {epsilon = 1.0e-05 : f32, momentum = 0.1 : f32} : (tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<3xf32>, tensor<4xf32>) -> (tensor<8x4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

func.func @quantize_storage_too_wide(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{storage type must be an integer type of 1 to 32 bits, got 'i64'}}
  %0 = qat.quantize %x, %s, %z to i64[-128 : 127] : tensor<4xf32>, tensor<f32>, tensor<i32> -> tensor<4xi32>
  return
}

// -----

func.func @quantize_shape(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{result shape 'tensor<5xi32>' differs from the input shape 'tensor<4xf32>'}}
  %0 = qat.quantize %x, %s, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32> -> tensor<5xi32>
  return
}

// -----

func.func @quantize_range(%x: tensor<4xf32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{range [0, 256] does not fit storage type 'ui8' ([0, 255])}}
  %0 = qat.quantize %x, %s, %z to ui8[0 : 256] : tensor<4xf32>, tensor<f32>, tensor<i32> -> tensor<4xi32>
  return
}

// -----

func.func @quantize_axis(%x: tensor<4x3xf32>, %s: tensor<3xf32>, %z: tensor<3xi32>) {
  // expected-error @+1 {{axis 2 is out of range for an input of rank 2}}
  %0 = qat.quantize %x, %s, %z to i8[-128 : 127] axis 2 : tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32> -> tensor<4x3xi32>
  return
}

// -----

func.func @quantize_param_entries(%x: tensor<4x3xf32>, %s: tensor<4xf32>, %z: tensor<4xi32>) {
  // expected-error @+1 {{scale has 4 entries but dimension 1 of the input has 3}}
  %0 = qat.quantize %x, %s, %z to i8[-128 : 127] axis 1 : tensor<4x3xf32>, tensor<4xf32>, tensor<4xi32> -> tensor<4x3xi32>
  return
}

// -----

func.func @quantize_zero_point(%x: tensor<4xf32>, %s: tensor<f32>) {
  %z = arith.constant dense<300> : tensor<i32>
  // expected-error @+1 {{zero_point 300 at index 0 is outside [0, 255]}}
  %0 = qat.quantize %x, %s, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32> -> tensor<4xi32>
  return
}

// -----

func.func @quantize_scale(%x: tensor<4xf32>, %z: tensor<i32>) {
  %s = arith.constant dense<0.0> : tensor<f32>
  // expected-error @+1 {{scale must be positive and finite, got 0.000000e+00 at index 0}}
  %0 = qat.quantize %x, %s, %z to ui8[0 : 255] : tensor<4xf32>, tensor<f32>, tensor<i32> -> tensor<4xi32>
  return
}

// -----

func.func @dequantize_shape(%q: tensor<4xi32>, %s: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{result shape 'tensor<2x2xf32>' differs from the input shape 'tensor<4xi32>'}}
  %0 = qat.dequantize %q, %s, %z : tensor<4xi32>, tensor<f32>, tensor<i32> -> tensor<2x2xf32>
  return
}

// -----

func.func @dequantize_param_rank(%q: tensor<4xi32>, %s: tensor<4xf32>, %z: tensor<i32>) {
  // expected-error @+1 {{scale must be a 0-d tensor when no axis is given, got 'tensor<4xf32>'}}
  %0 = qat.dequantize %q, %s, %z : tensor<4xi32>, tensor<4xf32>, tensor<i32> -> tensor<4xf32>
  return
}

// -----

func.func @dequantize_axis(%q: tensor<4xi32>, %s: tensor<4xf32>, %z: tensor<4xi32>) {
  // expected-error @+1 {{axis -1 is out of range for an input of rank 1}}
  %0 = qat.dequantize %q, %s, %z axis -1 : tensor<4xi32>, tensor<4xf32>, tensor<4xi32> -> tensor<4xf32>
  return
}

// -----

func.func @dequantize_scale(%q: tensor<4xi32>, %z: tensor<i32>) {
  %s = arith.constant dense<0x7F800000> : tensor<f32>
  // expected-error @+1 {{scale must be positive and finite, got INF at index 0}}
  %0 = qat.dequantize %q, %s, %z : tensor<4xi32>, tensor<f32>, tensor<i32> -> tensor<4xf32>
  return
}

// -----

func.func @requantize_multiplier_rank(%a: tensor<4x3xi32>, %m: tensor<3xf32>, %z: tensor<i32>) {
  // expected-error @+1 {{multiplier must be a 0-d tensor when no axis is given, got 'tensor<3xf32>'}}
  %0 = qat.requantize %a, %m, %z, %z, %z : tensor<4x3xi32>, tensor<3xf32>
  return
}

// -----

func.func @requantize_multiplier_entries(%a: tensor<4x3xi32>, %m: tensor<4xf32>, %z: tensor<i32>) {
  // expected-error @+1 {{multiplier has 4 entries but dimension 1 of the input has 3}}
  %0 = qat.requantize %a, %m, %z, %z, %z axis 1 : tensor<4x3xi32>, tensor<4xf32>
  return
}

// -----

func.func @requantize_axis(%a: tensor<4x3xi32>, %m: tensor<3xf32>, %z: tensor<i32>) {
  // expected-error @+1 {{axis 2 is out of range for an input of rank 2}}
  %0 = qat.requantize %a, %m, %z, %z, %z axis 2 : tensor<4x3xi32>, tensor<3xf32>
  return
}

// -----

func.func @requantize_multiplier_range(%a: tensor<4xi32>, %z: tensor<i32>) {
  %m = arith.constant dense<1.0e+07> : tensor<f32>
  // expected-error @+1 {{multiplier must be positive, finite and below 2^23, got 1.000000e+07 at index 0}}
  %0 = qat.requantize %a, %m, %z, %z, %z : tensor<4xi32>, tensor<f32>
  return
}

// -----

func.func @requantize_multiplier_negative(%a: tensor<4xi32>, %z: tensor<i32>) {
  %m = arith.constant dense<-0.5> : tensor<f32>
  // expected-error @+1 {{multiplier must be positive, finite and below 2^23, got -5.000000e-01 at index 0}}
  %0 = qat.requantize %a, %m, %z, %z, %z : tensor<4xi32>, tensor<f32>
  return
}

// -----

func.func @requantize_bounds(%a: tensor<4xi32>, %m: tensor<f32>, %z: tensor<i32>) {
  %lo = arith.constant dense<10> : tensor<i32>
  %hi = arith.constant dense<5> : tensor<i32>
  // expected-error @+1 {{min 10 is greater than max 5}}
  %0 = qat.requantize %a, %m, %z, %lo, %hi : tensor<4xi32>, tensor<f32>
  return
}

// -----

func.func @requantize_type(%a: tensor<4xi32>, %m: tensor<f32>, %z: tensor<i32>) {
  // expected-error @+1 {{failed to verify that all of {input, output} have same type}}
  %0 = "qat.requantize"(%a, %m, %z, %z, %z) : (tensor<4xi32>, tensor<f32>, tensor<i32>, tensor<i32>, tensor<i32>) -> tensor<5xi32>
  return
}

// -----

func.func @straight_through_types(%a: tensor<4xf32>, %b: tensor<5xf32>) {
  // expected-error @+1 {{failed to verify that all of {value, surrogate, output} have same type}}
  %0 = "qat.straight_through"(%a, %b) : (tensor<4xf32>, tensor<5xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @batch_norm_replicas_zero(%x: tensor<8x4x3x3xf32>, %c: tensor<4xf32>) {
  // expected-error @+1 {{replicas must be at least 1, got 0}}
  %0:3 = qat.batch_norm %x, %c, %c, %c, %c training epsilon 1.0e-05 momentum 0.1 replicas 0 : tensor<8x4x3x3xf32>, tensor<4xf32>
  return
}

// -----

func.func @batch_norm_replicas_eval(%x: tensor<8x4x3x3xf32>, %c: tensor<4xf32>) {
  // expected-error @+1 {{replicas synchronize the batch statistics of training; this batch norm uses its running ones}}
  %0:3 = qat.batch_norm %x, %c, %c, %c, %c epsilon 1.0e-05 momentum 0.1 replicas 2 : tensor<8x4x3x3xf32>, tensor<4xf32>
  return
}

// -----

func.func @all_reduce_dynamic(%x: tensor<?xf32>) {
  // expected-error @+1 {{needs a static shape, got 'tensor<?xf32>'}}
  %0 = qat.all_reduce sum %x : tensor<?xf32>
  return
}

// -----

func.func @all_reduce_integer(%x: tensor<4xi32>) {
  // expected-error @+1 {{operand #0 must be ranked tensor of 32-bit float values}}
  %0 = "qat.all_reduce"(%x) {kind = 0 : i32} : (tensor<4xi32>) -> tensor<4xi32>
  return
}

// -----

func.func @all_reduce_kind(%x: tensor<4xf32>) {
  // expected-error @+1 {{expected string or keyword containing one of the following enum values for attribute 'kind' [sum, min, max]}}
  %0 = qat.all_reduce mean %x : tensor<4xf32>
  return
}

// -----

func.func @replicated_parameter_zero(%w: tensor<4xf32>) {
  // expected-error @+1 {{replicas must be at least 1, got 0}}
  %0 = qat.replicated_parameter %w replicas 0 : tensor<4xf32>
  return
}

// -----

func.func @replicated_parameter_type(%w: tensor<4xf32>) {
  // expected-error @+1 {{failed to verify that all of {parameter, output} have same type}}
  %0 = "qat.replicated_parameter"(%w) {replicas = 2 : i64} : (tensor<4xf32>) -> tensor<5xf32>
  return
}
