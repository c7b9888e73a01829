"""What the actor needs from the learner: policy weights as safetensors bytes and a policy
that acts with them."""
