"""Historical analytics and user behaviour: the spec's next steps, over the same tables."""
