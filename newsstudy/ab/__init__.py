"""The simulated online A/B test of notebook 06_ab_simulation.

The paper's last result is a 7-day online test in which the distilled student's query
lists become one more recall path of a production news recommender (PAPER.md: DAU
+0.95%, CTR +0.22%, cold-user DAU +4.38%). No production traffic exists here, so the test
runs on simulated users over real news:

* :mod:`.simulate` -- the A/B world (the study's world generator with 100,000+ users),
  the feed (existing recall paths, a rank-fusion ranker), the click model (position bias
  times relevance to the users' latent interests) and the return model (visits depend on
  how well a user was served); the day loop, vectorised over users.
* :mod:`.treatment` -- the treatment's recall path: a published policy's checkpoint run
  once per world on the users' cleaned cross-domain signals (lists cached on disk), each
  query searched in an ANN index of the day's articles.
* :mod:`.stats` -- lifts with 95% intervals and p-values (Welch's t for per-user means,
  the delta method for CTR), a Poisson bootstrap as a check, replicated A/A tests, power
  and minimum-detectable-effect curves.
* :mod:`.paper` -- the paper's published numbers and the side-by-side table.

Submodules are imported on use (``from newsstudy.ab import simulate``).
"""
