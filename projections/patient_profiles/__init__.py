"""What analysts may know of each patient without identifying them: birth date (shown to them only as an age
band), sex, death, merge."""
