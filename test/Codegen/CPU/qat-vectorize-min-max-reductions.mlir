// RUN: qat-opt --qat-vectorize-min-max-reductions %s | FileCheck %s

#id2 = affine_map<(d0, d1) -> (d0, d1)>
#scalar2 = affine_map<(d0, d1) -> ()>
#id1 = affine_map<(d0) -> (d0)>
#scalar1 = affine_map<(d0) -> ()>

// An observer's range (130 = 2 x 64 + 2 elements): a 64-lane vector loop
// starting from the old values, one horizontal reduction per output, a
// scalar loop for the last 2 elements, then the stores.
// CHECK-LABEL: func.func @observe
// CHECK-SAME:    (%[[X:.*]]: memref<10x13xf32>, %[[LO:.*]]: memref<f32>, %[[HI:.*]]: memref<f32>)
// CHECK-NOT:     linalg.generic
// CHECK:         %[[FLAT:.*]] = memref.collapse_shape %[[X]] {{\[\[}}0, 1]] : memref<10x13xf32> into memref<130xf32>
// CHECK-DAG:     %[[LO0:.*]] = memref.load %[[LO]][]
// CHECK-DAG:     %[[HI0:.*]] = memref.load %[[HI]][]
// CHECK-DAG:     %[[LOV:.*]] = vector.broadcast %[[LO0]] : f32 to vector<64xf32>
// CHECK-DAG:     %[[HIV:.*]] = vector.broadcast %[[HI0]] : f32 to vector<64xf32>
// CHECK-DAG:     %[[C128:.*]] = arith.constant 128 : index
// CHECK-DAG:     %[[C64:.*]] = arith.constant 64 : index
// CHECK:         %[[V:.*]]:2 = scf.for %[[I:.*]] = %{{.*}} to %[[C128]] step %[[C64]] iter_args(%[[A:.*]] = %[[LOV]], %[[B:.*]] = %[[HIV]])
// CHECK:           %[[LOAD:.*]] = vector.load %[[FLAT]][%[[I]]] : memref<130xf32>, vector<64xf32>
// CHECK:           %[[MIN:.*]] = arith.minimumf %[[LOAD]], %[[A]] : vector<64xf32>
// CHECK:           %[[MAX:.*]] = arith.maximumf %[[LOAD]], %[[B]] : vector<64xf32>
// CHECK:           scf.yield %[[MIN]], %[[MAX]]
// CHECK:         %[[RLO:.*]] = vector.reduction <minimumf>, %[[V]]#0 : vector<64xf32> into f32
// CHECK:         %[[RHI:.*]] = vector.reduction <maximumf>, %[[V]]#1 : vector<64xf32> into f32
// CHECK:         %[[S:.*]]:2 = scf.for %{{.*}} = %{{.*}} to %{{.*}} step %{{.*}} iter_args(%{{.*}} = %[[RLO]], %{{.*}} = %[[RHI]]) -> (f32, f32)
// CHECK:           memref.load %[[FLAT]]
// CHECK:           arith.minimumf {{.*}} : f32
// CHECK:           arith.maximumf {{.*}} : f32
// CHECK:         memref.store %[[S]]#0, %[[LO]][]
// CHECK:         memref.store %[[S]]#1, %[[HI]][]
func.func @observe(%x: memref<10x13xf32>, %lo: memref<f32>, %hi: memref<f32>) {
  linalg.generic {indexing_maps = [#id2, #scalar2, #scalar2], iterator_types = ["reduction", "reduction"]} ins(%x : memref<10x13xf32>) outs(%lo, %hi : memref<f32>, memref<f32>) {
  ^bb0(%in: f32, %a: f32, %b: f32):
    %0 = arith.minimumf %in, %a : f32
    %1 = arith.maximumf %b, %in : f32
    linalg.yield %0, %1 : f32, f32
  }
  return
}

// Fewer than 64 elements: only the scalar loop, and a 1-D input is used as
// it is.
// CHECK-LABEL: func.func @short
// CHECK-NOT:     vector
// CHECK-NOT:     memref.collapse_shape
// CHECK:         scf.for
// CHECK:           arith.minimumf {{.*}} : f32
// CHECK-NOT:     linalg.generic
func.func @short(%x: memref<40xf32>, %lo: memref<f32>) {
  linalg.generic {indexing_maps = [#id1, #scalar1], iterator_types = ["reduction"]} ins(%x : memref<40xf32>) outs(%lo : memref<f32>) {
  ^bb0(%in: f32, %a: f32):
    %0 = arith.minimumf %in, %a : f32
    linalg.yield %0 : f32
  }
  return
}

// Left alone: a sum and minnumf (their values depend on the order), a
// strided input, a reduction that keeps a dimension, tensors, and a body
// computing more than the combiner.
// CHECK-LABEL: func.func @left_alone
// CHECK-NOT:     vector
// CHECK-COUNT-6: linalg.generic
#strided = strided<[26, 1]>
#keep = affine_map<(d0, d1) -> (d0)>
func.func @left_alone(%x: memref<10x13xf32>, %y: memref<10x13xf32, #strided>, %t: tensor<64xf32>, %s: memref<f32>, %row: memref<10xf32>) -> tensor<f32> {
  linalg.generic {indexing_maps = [#id2, #scalar2], iterator_types = ["reduction", "reduction"]} ins(%x : memref<10x13xf32>) outs(%s : memref<f32>) {
  ^bb0(%in: f32, %a: f32):
    %0 = arith.addf %in, %a : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#id2, #scalar2], iterator_types = ["reduction", "reduction"]} ins(%x : memref<10x13xf32>) outs(%s : memref<f32>) {
  ^bb0(%in: f32, %a: f32):
    %0 = arith.minnumf %in, %a : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#id2, #scalar2], iterator_types = ["reduction", "reduction"]} ins(%y : memref<10x13xf32, #strided>) outs(%s : memref<f32>) {
  ^bb0(%in: f32, %a: f32):
    %0 = arith.minimumf %in, %a : f32
    linalg.yield %0 : f32
  }
  linalg.generic {indexing_maps = [#id2, #keep], iterator_types = ["parallel", "reduction"]} ins(%x : memref<10x13xf32>) outs(%row : memref<10xf32>) {
  ^bb0(%in: f32, %a: f32):
    %0 = arith.minimumf %in, %a : f32
    linalg.yield %0 : f32
  }
  %init = tensor.empty() : tensor<f32>
  %r = linalg.generic {indexing_maps = [#id1, #scalar1], iterator_types = ["reduction"]} ins(%t : tensor<64xf32>) outs(%init : tensor<f32>) {
  ^bb0(%in: f32, %a: f32):
    %0 = arith.maximumf %in, %a : f32
    linalg.yield %0 : f32
  } -> tensor<f32>
  linalg.generic {indexing_maps = [#id2, #scalar2], iterator_types = ["reduction", "reduction"]} ins(%x : memref<10x13xf32>) outs(%s : memref<f32>) {
  ^bb0(%in: f32, %a: f32):
    %abs = math.absf %in : f32
    %0 = arith.maximumf %abs, %a : f32
    linalg.yield %0 : f32
  }
  return %r : tensor<f32>
}
