"""vote (voting-app): the page users see; records votes through storage."""
