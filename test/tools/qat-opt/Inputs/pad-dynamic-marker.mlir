func.func @f(%a: tensor<2x3xf32>) -> tensor<?x3xf32> {
  %c = arith.constant 0.0 : f32
  %0 = tensor.pad %a low[-9223372036854775808, 0] high[0, 0] {
  ^bb0(%i: index, %j: index):
    tensor.yield %c : f32
  } : tensor<2x3xf32> to tensor<?x3xf32>
  return %0 : tensor<?x3xf32>
}
