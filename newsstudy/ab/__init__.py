"""The simulated online A/B test of notebook 06_ab_simulation.

The paper's last result is a 7-day online test in which the distilled student's query
lists become one more recall path of a production news recommender (PAPER.md: DAU
+0.95%, CTR +0.22%, cold-user DAU +4.38%). No production traffic exists here, so the test
runs on simulated users over real news:

* :mod:`.simulate` -- the day loop, vectorised over users: the click model (position
  bias times relevance to the users' latent interests) and the return model (visits
  depend on how well a user was served), documented in full there.
* :mod:`.market` -- the A/B world (the study's world generator with 100,000+ users) as the
  day loop reads it.
* :mod:`.feed` -- the existing recall paths and the rank-fusion ranker.
* :mod:`.settings` -- the feed's, the click model's and the return model's settings, each
  with its default, range and meaning (06's parameter schema takes them as they are).
* :mod:`.treatment` -- the treatment's recall path: a published policy's checkpoint run
  once per world on the users' cleaned cross-domain signals (lists cached on disk), each
  query searched in an ANN index of the day's articles.
* :mod:`.stats` -- lifts with 95% intervals and p-values (Welch's t for per-user means,
  the delta method for CTR), a Poisson bootstrap as a check, replicated A/A tests, power
  and minimum-detectable-effect curves.
* :mod:`.tables` -- 06's tables and figures, ours beside the paper's (its values: :mod:`newsstudy.paper`).

Submodules are imported on use (``from newsstudy.ab import simulate``).
"""
