"""LangGraph agents and the types they produce (proposed actions)."""
