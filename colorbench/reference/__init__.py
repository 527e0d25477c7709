"""Reference data shipped with colorbench: ``published.csv`` (figures from the source documents)."""
