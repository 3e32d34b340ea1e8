"""storage (voting-storage): counts votes exactly once; 1.0 on Redis, 2.0 on MySQL."""
