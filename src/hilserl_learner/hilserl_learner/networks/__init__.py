"""Neural networks of the learner: the shared image encoder, observation
encoder, actor and critics."""
