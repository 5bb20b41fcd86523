// A global whose element type PyTorch's state_dict export does not map.
module {
  ml_program.global private @half(dense<1.0> : tensor<2xf16>) : tensor<2xf16>
}
