// RUN: qat-opt %s --convert-qat-to-linalg --canonicalize --cse | FileCheck %s

// The scale is inverted once (PyTorch multiplies by 1.0f / scale), then one
// elementwise generic rounds, offsets, clamps, maps NaN/huge levels to qmin,
// and scales back. Per-axis parameters are indexed by the axis dimension.

// CHECK-DAG: #[[ID1:.*]] = affine_map<(d0) -> (d0)>
// CHECK-DAG: #[[ID2:.*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[AXIS1:.*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[SCALAR2:.*]] = affine_map<(d0, d1) -> ()>
// CHECK-DAG: #[[AXIS0_3:.*]] = affine_map<(d0, d1, d2) -> (d0)>

// CHECK-LABEL: func @fake_quant_per_axis
// CHECK-DAG:     %[[BIG:.*]] = arith.constant 9.22337203E+18 : f32
// CHECK-DAG:     %[[QMAX:.*]] = arith.constant 1.270000e+02 : f32
// CHECK-DAG:     %[[QMIN:.*]] = arith.constant -1.280000e+02 : f32
// CHECK-DAG:     %[[ONE:.*]] = arith.constant 1.000000e+00 : f32
// CHECK:         %[[INV:.*]] = linalg.generic {indexing_maps = [#[[ID1]], #[[ID1]]], iterator_types = ["parallel"]} ins(%arg1 : tensor<3xf32>)
// CHECK:           arith.divf %[[ONE]], %{{.*}} : f32
// CHECK:         linalg.generic {indexing_maps = [#[[ID2]], #[[AXIS1]], #[[AXIS1]], #[[AXIS1]], #[[ID2]]], iterator_types = ["parallel", "parallel"]}
// CHECK-SAME:      ins(%arg0, %[[INV]], %arg1, %arg2 : tensor<4x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xi32>)
// CHECK:         ^bb0(%[[X:[a-z0-9_]+]]: f32, %[[IS:[a-z0-9_]+]]: f32, %[[S:[a-z0-9_]+]]: f32, %[[Z:[a-z0-9_]+]]: i32, %{{.*}}: f32):
// CHECK-NEXT:      %[[ZF:.*]] = arith.sitofp %[[Z]] : i32 to f32
// CHECK-NEXT:      %[[M:.*]] = arith.mulf %[[X]], %[[IS]] : f32
// CHECK-NEXT:      %[[R:.*]] = math.roundeven %[[M]] : f32
// CHECK-NEXT:      %[[T:.*]] = arith.addf %[[R]], %[[ZF]] : f32
// CHECK-NEXT:      %[[LO:.*]] = arith.maximumf %[[T]], %[[QMIN]] : f32
// CHECK-NEXT:      %[[C:.*]] = arith.minimumf %[[LO]], %[[QMAX]] : f32
// CHECK-NEXT:      %[[HUGE:.*]] = arith.cmpf uge, %[[T]], %[[BIG]] : f32
// CHECK-NEXT:      %[[SEL:.*]] = arith.select %[[HUGE]], %[[QMIN]], %[[C]] : f32
// CHECK-NEXT:      %[[D:.*]] = arith.subf %[[SEL]], %[[ZF]] : f32
// CHECK-NEXT:      %[[OUT:.*]] = arith.mulf %[[D]], %[[S]] : f32
// CHECK-NEXT:      linalg.yield %[[OUT]] : f32
func.func @fake_quant_per_axis(%x: tensor<4x3xf32>, %s: tensor<3xf32>, %z: tensor<3xi32>) -> tensor<4x3xf32> {
  %0 = qat.fake_quant %x, %s, %z to i8[-128 : 127] axis 1 : tensor<4x3xf32>, tensor<3xf32>, tensor<3xi32>
  return %0 : tensor<4x3xf32>
}

// CHECK-LABEL: func @fake_quant_per_tensor_dynamic
// CHECK:         %[[DIM:.*]] = tensor.dim %arg0, %c0 : tensor<?x3xf32>
// CHECK:         %[[INIT:.*]] = tensor.empty(%[[DIM]]) : tensor<?x3xf32>
// CHECK:         linalg.generic {indexing_maps = [#[[ID2]], #[[SCALAR2]], #[[SCALAR2]], #[[SCALAR2]], #[[ID2]]]
// CHECK-SAME:      outs(%[[INIT]] : tensor<?x3xf32>)
func.func @fake_quant_per_tensor_dynamic(%x: tensor<?x3xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<?x3xf32> {
  %0 = qat.fake_quant %x, %s, %z to ui8[0 : 255] : tensor<?x3xf32>, tensor<f32>, tensor<i32>
  return %0 : tensor<?x3xf32>
}

// The mask compares the same level with ordered predicates (NaN is outside).
// CHECK-LABEL: func @fake_quant_mask
// CHECK-DAG:     %[[QMAX:.*]] = arith.constant 2.550000e+02 : f32
// CHECK-DAG:     %[[QMIN:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:         linalg.generic {{.*}} outs(%{{.*}} : tensor<4x3xi1>)
// CHECK:           %[[T:.*]] = arith.addf
// CHECK-NEXT:      %[[GE:.*]] = arith.cmpf oge, %[[T]], %[[QMIN]] : f32
// CHECK-NEXT:      %[[LE:.*]] = arith.cmpf ole, %[[T]], %[[QMAX]] : f32
// CHECK-NEXT:      %[[IN:.*]] = arith.andi %[[GE]], %[[LE]] : i1
// CHECK-NEXT:      linalg.yield %[[IN]] : i1
func.func @fake_quant_mask(%x: tensor<4x3xf32>, %s: tensor<f32>, %z: tensor<i32>) -> tensor<4x3xi1> {
  %0 = qat.fake_quant_mask %x, %s, %z to ui8[0 : 255] : tensor<4x3xf32>, tensor<f32>, tensor<i32>
  return %0 : tensor<4x3xi1>
}

// Per-axis observers reduce every dimension but the axis, starting from
// (+inf, -inf); the moving average merges with c * (cur - state) in f32.
// CHECK-LABEL: func @observe_moving_average_per_axis
// CHECK-DAG:     %[[C:.*]] = arith.constant 0.00999999977 : f32
// CHECK-DAG:     %[[NINF:.*]] = arith.constant 0xFF800000 : f32
// CHECK-DAG:     %[[INF:.*]] = arith.constant 0x7F800000 : f32
// CHECK:         %[[MIN0:.*]] = linalg.fill ins(%[[INF]] : f32)
// CHECK:         %[[MAX0:.*]] = linalg.fill ins(%[[NINF]] : f32)
// CHECK:         %[[CUR:.*]]:2 = linalg.generic {indexing_maps = [#{{.*}}, #[[AXIS0_3]], #[[AXIS0_3]]], iterator_types = ["parallel", "reduction", "reduction"]}
// CHECK-SAME:      outs(%[[MIN0]], %[[MAX0]] : tensor<2xf32>, tensor<2xf32>)
// CHECK:           arith.minimumf
// CHECK:           arith.maximumf
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%[[CUR]]#0, %[[CUR]]#1, %arg1, %arg2 :
// CHECK:         ^bb0(%[[CMIN:[a-z0-9_]+]]: f32, %[[CMAX:[a-z0-9_]+]]: f32, %[[SMIN:[a-z0-9_]+]]: f32, %[[SMAX:[a-z0-9_]+]]: f32,
// CHECK-NEXT:      %[[A:.*]] = arith.cmpf oeq, %[[SMIN]], %[[INF]] : f32
// CHECK-NEXT:      %[[B:.*]] = arith.cmpf oeq, %[[SMAX]], %[[NINF]] : f32
// CHECK-NEXT:      %[[UNOBSERVED:.*]] = arith.andi %[[A]], %[[B]] : i1
// CHECK-NEXT:      %[[DELTA:.*]] = arith.subf %[[CMIN]], %[[SMIN]] : f32
// CHECK-NEXT:      %[[STEP:.*]] = arith.mulf %[[DELTA]], %[[C]] : f32
// CHECK-NEXT:      %[[AVG:.*]] = arith.addf %[[SMIN]], %[[STEP]] : f32
// CHECK-NEXT:      arith.select %[[UNOBSERVED]], %[[CMIN]], %[[AVG]] : f32
func.func @observe_moving_average_per_axis(%x: tensor<2x5x7xf32>, %min: tensor<2xf32>, %max: tensor<2xf32>) -> (tensor<2xf32>, tensor<2xf32>) {
  %0:2 = qat.observe_moving_average_min_max %x, %min, %max averaging_constant 0.01 axis 0 : tensor<2x5x7xf32>, tensor<2xf32>
  return %0#0, %0#1 : tensor<2xf32>, tensor<2xf32>
}

// CHECK-LABEL: func @observe_min_max_per_tensor
// CHECK:         linalg.generic {{.*}}iterator_types = ["reduction", "reduction"]
// CHECK:         linalg.generic
// CHECK:           arith.minimumf
// CHECK:           arith.maximumf
func.func @observe_min_max_per_tensor(%x: tensor<4x3xf32>, %min: tensor<f32>, %max: tensor<f32>) -> (tensor<f32>, tensor<f32>) {
  %0:2 = qat.observe_min_max %x, %min, %max : tensor<4x3xf32>, tensor<f32>
  return %0#0, %0#1 : tensor<f32>, tensor<f32>
}

// CHECK-LABEL: func @choose_qparams_affine
// CHECK-DAG:     %[[QMAX:.*]] = arith.constant 127 : i32
// CHECK-DAG:     %[[QMIN:.*]] = arith.constant -128 : i32
// CHECK-DAG:     %[[EPS:.*]] = arith.constant 1.1920929E-7 : f32
// CHECK-DAG:     %[[RANGE:.*]] = arith.constant 2.550000e+02 : f32
// CHECK-DAG:     %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:         ^bb0(%[[MIN:[a-z0-9_]+]]: f32, %[[MAX:[a-z0-9_]+]]: f32, %{{.*}}: f32, %{{.*}}: i32):
// CHECK-NEXT:      %[[MINNEG:.*]] = arith.minimumf %[[MIN]], %[[ZERO]] : f32
// CHECK-NEXT:      %[[MAXPOS:.*]] = arith.maximumf %[[MAX]], %[[ZERO]] : f32
// CHECK-NEXT:      %[[W:.*]] = arith.subf %[[MAXPOS]], %[[MINNEG]] : f32
// CHECK-NEXT:      %[[S0:.*]] = arith.divf %[[W]], %[[RANGE]] : f32
// CHECK-NEXT:      %[[S:.*]] = arith.maximumf %[[S0]], %[[EPS]] : f32
// CHECK-NEXT:      %[[Q:.*]] = arith.divf %[[MINNEG]], %[[S]] : f32
// CHECK-NEXT:      %[[QR:.*]] = math.roundeven %[[Q]] : f32
// CHECK-NEXT:      %[[QI:.*]] = arith.fptosi %[[QR]] : f32 to i32
// CHECK-NEXT:      %[[ZP:.*]] = arith.subi %[[QMIN]], %[[QI]] : i32
// CHECK-NEXT:      %[[ZP1:.*]] = arith.maxsi %[[ZP]], %[[QMIN]] : i32
// CHECK-NEXT:      arith.minsi %[[ZP1]], %[[QMAX]] : i32
func.func @choose_qparams_affine(%min: tensor<3xf32>, %max: tensor<3xf32>) -> (tensor<3xf32>, tensor<3xi32>) {
  %s, %z = qat.choose_qparams affine %min, %max to i8[-128 : 127] : tensor<3xf32>
  return %s, %z : tensor<3xf32>, tensor<3xi32>
}

// Symmetric: scale from max(-min_neg, max_pos) / ((qmax - qmin) / 2); the
// zero-point is a constant (0 signed, 128 for unsigned [0, 255]).
// CHECK-LABEL: func @choose_qparams_symmetric_unsigned
// CHECK-DAG:     %[[Z128:.*]] = arith.constant 128 : i32
// CHECK-DAG:     %[[HALF:.*]] = arith.constant 1.275000e+02 : f32
// CHECK:           arith.negf
// CHECK:           arith.divf %{{.*}}, %[[HALF]] : f32
// CHECK:           arith.select %{{.*}}, %{{.*}}, %[[Z128]] : i32
func.func @choose_qparams_symmetric_unsigned(%min: tensor<f32>, %max: tensor<f32>) -> (tensor<f32>, tensor<i32>) {
  %s, %z = qat.choose_qparams symmetric %min, %max to ui8[0 : 255] : tensor<f32>
  return %s, %z : tensor<f32>, tensor<i32>
}


// The fused kernel's rule computes the scale and zero-point in f64 and
// rounds the scale to f32 at the end.
// CHECK-LABEL: func @choose_qparams_kernel_rule
// CHECK:         arith.extf %{{.*}} : f32 to f64
// CHECK:         arith.divf %{{.*}}, %{{.*}} : f64
// CHECK:         math.roundeven %{{.*}} : f64
// CHECK:         arith.truncf %{{.*}} : f64 to f32
func.func @choose_qparams_kernel_rule(%min: tensor<f32>, %max: tensor<f32>) -> (tensor<f32>, tensor<i32>) {
  %s, %z = qat.choose_qparams symmetric %min, %max to i8[-128 : 127] using fake_quant_kernel : tensor<f32>
  return %s, %z : tensor<f32>, tensor<i32>
}

// Dropout hashes the row-major element index with the seed (SplitMix64)
// and compares 24 random bits with the probability.
// CHECK-LABEL: func @dropout
// CHECK:         linalg.generic
// CHECK-SAME:      ins(%arg0, %arg1 : tensor<4x8xf32>, tensor<i64>)
// CHECK:           linalg.index 0
// CHECK:           linalg.index 1
// CHECK:           arith.index_cast %{{.*}} : index to i64
// CHECK:           arith.shrui
// CHECK:           arith.uitofp %{{.*}} : i64 to f32
// CHECK:           arith.cmpf olt
// CHECK:           arith.select
func.func @dropout(%x: tensor<4x8xf32>, %seed: tensor<i64>) -> tensor<4x8xf32> {
  %0 = qat.dropout %x, %seed stream 1 probability 0.5 : tensor<4x8xf32>, tensor<i64>
  return %0 : tensor<4x8xf32>
}

// No qat op survives.
// CHECK-NOT: qat.

// Softmax cross-entropy: the row maximum, then sum of exp(x - max) with the
// labelled logit picked, then the mean of log(sum) + max - picked.
// CHECK-LABEL: func @softmax_cross_entropy
// CHECK:         %[[MAX:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]
// CHECK:           arith.maximumf
// CHECK:         %[[SUMS:.*]]:2 = linalg.generic {{.*}} iterator_types = ["parallel", "reduction"]} ins(%{{.*}}, %[[MAX]], %{{.*}} : tensor<4x10xf32>, tensor<4xf32>, tensor<4xi64>)
// CHECK:           arith.subf
// CHECK:           math.exp
// CHECK:           arith.index_cast
// CHECK:           arith.select
// CHECK:         %[[TOTAL:.*]] = linalg.generic {{.*}} iterator_types = ["reduction"]} ins(%[[SUMS]]#0, %[[MAX]], %[[SUMS]]#1
// CHECK:           math.log
// CHECK:         linalg.generic {{.*}} ins(%[[TOTAL]] : tensor<f32>)
// CHECK:           arith.divf
func.func @softmax_cross_entropy(%logits: tensor<4x10xf32>, %labels: tensor<4xi64>) -> tensor<f32> {
  %0 = qat.softmax_cross_entropy %logits, %labels : tensor<4x10xf32>, tensor<4xi64> -> tensor<f32>
  return %0 : tensor<f32>
}
