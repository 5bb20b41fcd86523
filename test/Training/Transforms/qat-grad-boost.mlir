// RUN: qat-opt --qat-generate-backward --qat-optimizer --qat-grad-boost="variant=corrected clip=0.5" %s | FileCheck %s
// RUN: qat-opt --qat-generate-backward --qat-optimizer --qat-grad-boost %s | FileCheck %s --check-prefix=DEFAULT
// RUN: not qat-opt --qat-grad-boost %s 2>&1 | FileCheck %s --check-prefix=NOSTEP
// RUN: not qat-opt --qat-generate-backward --qat-optimizer --qat-grad-boost --qat-grad-boost %s 2>&1 | FileCheck %s --check-prefix=TWICE

// Every gradient goes through qat.grad_boost before the SGD update; the
// statistics and the two counters are state kept in zero-initialized
// mutable globals; grad_boost_noise switches the noise and grad_boost_seed
// seeds it.

// CHECK-DAG: ml_program.global private mutable @grad_boost.step(dense<0> : tensor<i64>) : tensor<i64>
// CHECK-DAG: ml_program.global private mutable @grad_boost.qat_steps(dense<0> : tensor<i64>) : tensor<i64>
// CHECK-DAG: ml_program.global private mutable @grad_boost.max.w(dense<0.000000e+00> : tensor<2x4xf32>) : tensor<2x4xf32>
// CHECK-DAG: ml_program.global private mutable @grad_boost.min.b(dense<0.000000e+00> : tensor<4xf32>) : tensor<4xf32>

// NOSTEP: error: no function 'train_step': run --qat-optimizer first
// TWICE: error: already has GradBoost

func.func @forward(%w: tensor<2x4xf32> {qat.state = "w", qat.trainable}, %b: tensor<4xf32> {qat.state = "b", qat.trainable}, %x: tensor<2x4xf32> {qat.input = "x"}) -> tensor<2x4xf32> {
  %shape = tosa.const_shape {values = dense<[1, 4]> : tensor<2xindex>} : () -> !tosa.shape<2>
  %b2 = tosa.reshape %b, %shape : (tensor<4xf32>, !tosa.shape<2>) -> tensor<1x4xf32>
  %0 = tosa.add %w, %x : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  %1 = tosa.add %0, %b2 : (tensor<2x4xf32>, tensor<1x4xf32>) -> tensor<2x4xf32>
  return %1 : tensor<2x4xf32>
}

// CHECK-LABEL: func.func @train_step(
// CHECK-SAME:    %[[T:[a-z0-9]+]]: tensor<i64> {qat.state = "grad_boost.step"}
// CHECK-SAME:    %[[K:[a-z0-9]+]]: tensor<i64> {qat.state = "grad_boost.qat_steps"}
// CHECK-SAME:    %[[ON:[a-z0-9]+]]: tensor<f32> {qat.input = "grad_boost_noise"}
// CHECK-SAME:    %[[SEED:[a-z0-9]+]]: tensor<i64> {qat.input = "grad_boost_seed"}
// CHECK-SAME:    %[[WMAX:[a-z0-9]+]]: tensor<2x4xf32> {qat.state = "grad_boost.max.w"}
// CHECK-SAME:    %[[WMIN:[a-z0-9]+]]: tensor<2x4xf32> {qat.state = "grad_boost.min.w"}
// CHECK-SAME:    %[[BMAX:[a-z0-9]+]]: tensor<4xf32> {qat.state = "grad_boost.max.b"}
// CHECK-SAME:    %[[BMIN:[a-z0-9]+]]: tensor<4xf32> {qat.state = "grad_boost.min.b"}
// CHECK-SAME:    tensor<i64> {qat.state = "grad_boost.step"}, tensor<i64> {qat.state = "grad_boost.qat_steps"}, tensor<2x4xf32> {qat.state = "grad_boost.max.w"}
// CHECK:         %[[R:.*]]:4 = call @loss_and_gradients(
// t counts every step; k counts the steps with noise.
// CHECK:         %[[T1:.*]] = arith.addi %[[T]], %{{.*}} : tensor<i64>
// CHECK:         %[[NOISY:.*]] = arith.cmpf une, %[[ON]], %{{.*}} : tensor<f32>
// CHECK:         %[[INC:.*]] = arith.extui %[[NOISY]] : tensor<i1> to tensor<i64>
// CHECK:         %[[K1:.*]] = arith.addi %[[K]], %[[INC]] : tensor<i64>
// CHECK:         %[[GW:.*]], %[[WMAX1:.*]], %[[WMIN1:.*]] = qat.grad_boost corrected %[[R]]#2, %[[WMAX]], %[[WMIN]] step %[[T1]] qat_steps %[[K]] seed %[[SEED]] noise %[[ON]] stream 0 {{{.*}}clip = 5.000000e-01
// CHECK:         %[[GB:.*]], %[[BMAX1:.*]], %[[BMIN1:.*]] = qat.grad_boost corrected %[[R]]#3, %[[BMAX]], %[[BMIN]] step %[[T1]] qat_steps %[[K]] seed %[[SEED]] noise %[[ON]] stream 1
// The update uses the boosted gradients.
// CHECK:         tosa.add %[[GW]],
// CHECK:         tosa.add %[[GB]],
// CHECK:         return {{.*}}, %[[T1]], %[[K1]], %[[WMAX1]], %[[WMIN1]], %[[BMAX1]], %[[BMIN1]] :

// DEFAULT: qat.grad_boost reference {{.*}} {beta = 0.899999976 : f32, clip = 1.000000e-03 : f32, coin_probability = 5.000000e-01 : f32, decay = 0.00999999977 : f32}
