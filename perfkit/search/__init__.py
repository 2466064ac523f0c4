"""The seed's search, written once and driven level by level by every strategy."""

from perfkit.search.minimax import SearchResult, gumbel_noise, search, top_k

__all__ = ["SearchResult", "gumbel_noise", "search", "top_k"]
