"""Data loading, pure model builders and the Ray trainables that fit them."""
