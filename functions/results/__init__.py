"""results (voting-analytics): turns storage's counts into the line under the buttons."""
