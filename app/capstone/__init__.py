"""The capstone after chapter 9: the learner's own task taken end to end, with a tracked checklist."""
