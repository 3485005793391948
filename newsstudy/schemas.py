"""Parameter schemas, one per notebook.

Each notebook's ``parameters`` cell defines exactly the fields of its schema (lower-case
names, so ``papermill -p seed 3`` works). Values are validated strictly: unknown keys,
wrong types and out-of-range values are errors that name the key. ``newsstudy.params``
holds the machinery that applies these schemas to params files, ``-p`` overrides and
notebook namespaces.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from newsstudy.ab.settings import ClickModel, FeedSettings, ReturnModel

PUBLISHED_POLICIES: dict[str, str] = {
    "student": "05_distillation",
    "distillation-teacher": "04_scaling",
    "prompt_only": "03_grpo",
    "teacher": "03_grpo",
}
"""Policy name a notebook publishes (``artifacts/<profile>/published/<name>.json``) ->
that notebook; what 06's ``treatment_policy`` may name."""

SENSITIVITY_SETTINGS: dict[str, tuple[object, object]] = {
    "max_interests": (2, 6),
    "p_term_click": (0.5, 0.95),
    "term_pool_size": (20, 120),
    "interest_drift": (0.0, 1.5),
    "serendipity": (0.0, 0.3),
    "domain_concentration": (0.5, 10.0),
    "noise_rate": (0.05, 0.4),
    "cold_share": (0.0, 0.6),
    "events_per_day": (1.5, 6.0),
}
"""01b's sweep: world knob -> (low, high) settings; the middle setting is the profile's own."""


class NotebookParams(BaseModel):
    """Base of every notebook's parameters: strict types, no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    profile: str = Field(
        pattern=r"^[a-z][a-z0-9_-]*$",
        description="Profile name; outputs go to reports/<profile>/ and artifacts/<profile>/.",
    )
    seed: int = Field(ge=0, le=2**31 - 1, description="Seed for every random choice.")


class DataParams(NotebookParams):
    """01_data: the simulated cross-domain world over a real news corpus."""

    n_users: int = Field(ge=20, le=2_000_000, description="Number of simulated users.")
    history_days: int = Field(ge=7, le=40, description="Days of observed behaviour per user.")
    test_days: int = Field(ge=3, le=21, description="Days of held-out news clicks (ground truth).")
    events_per_day: float = Field(
        gt=0, le=50, description="Mean behaviour events per user per day (all domains)."
    )
    noise_rate: float = Field(
        ge=0, le=0.8, description="Share of observed events that are noise (labelled)."
    )
    cold_share: float = Field(
        ge=0, le=1, description="Share of users who are cold: few or no news clicks in history."
    )
    n_topics: int = Field(ge=4, le=200, description="Topic clusters derived from the articles.")
    min_interests: int = Field(ge=1, le=8, description="Fewest latent interests per user.")
    max_interests: int = Field(ge=1, le=8, description="Most latent interests per user.")
    terms_per_interest: int = Field(
        ge=1, le=12, description="Specific terms (entities, keywords) a user follows per interest."
    )
    max_articles: int | None = Field(
        default=None, ge=200, description="Use only this many articles (smoke runs); None: all."
    )
    p_term_click: float = Field(
        default=0.8, ge=0, le=1,
        description="World knob: share of interest clicks on articles naming one of the "
                    "user's entities (entity following; see world.WorldConstants).")
    term_pool_size: int = Field(
        default=40, ge=4, le=400,
        description="World knob: a user's entities come from this many of their topic's most "
                    "distinctive terms (larger: more niche entities).")
    interest_drift: float = Field(
        default=0.5, ge=0, le=3,
        description="World knob: log-normal drift of interest weights from the first history "
                    "day to the test window.")
    serendipity: float = Field(
        default=0.1, ge=0, le=0.9,
        description="World knob: share of held-out clicks on trending articles of any topic.")
    domain_concentration: float = Field(
        default=2.0, gt=0, le=100,
        description="World knob: concentration of each interest's mix over search, browsing "
                    "and news (low: each interest shows mostly in one stream).")
    val_share: float = Field(ge=0, le=0.5, description="Share of users held out for validation.")
    test_share: float = Field(gt=0, le=0.5, description="Share of users held out for testing.")
    embedder: Literal["minilm"] = Field(
        default="minilm", description="Sentence embedder for articles and topics."
    )

    @model_validator(mode="after")
    def _interest_range(self) -> DataParams:
        if self.min_interests > self.max_interests:
            raise ValueError(
                f"min_interests ({self.min_interests}) must not exceed "
                f"max_interests ({self.max_interests})"
            )
        if self.val_share + self.test_share >= 0.9:
            raise ValueError("val_share + test_share must leave at least 10% of users to train on")
        return self


class RewardSettings(BaseModel):
    """Reward and serving settings shared by every notebook that scores query lists.

    The defaults are the values notebooks 02 and 03b run with where their params files
    leave a field out (they have no teacher recipe). Notebooks 03, 04 and 05 take every
    field from the profile's teacher recipe (``TeacherRecipe``, ``params/<profile>/
    teacher.yaml``), which names each one, so these defaults never decide the teacher.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    reward_embedder: Literal["static", "minilm"] = Field(
        default="static", description="Embedder behind R_align, R_div and the rubric judge.")
    serving_embedder: Literal["minilm", "static"] = Field(
        default="minilm", description="Embedder of the serving (evaluation) ANN index.")
    index_kind: Literal["exact", "hnsw"] = Field(
        default="exact", description="faiss index: exact inner product, or HNSW for big corpora.")
    fusion: Literal["round_robin", "rrf"] = Field(
        default="rrf", description="How per-query hits fuse into one ranking.")
    n_queries: int = Field(default=5, ge=1, le=16, description="Queries per list.")
    n_judge_clusters: int = Field(
        default=24, ge=4, le=200, description="The rubric judge's own clusters of the corpus.")
    w_align: float = Field(default=1.0, ge=0, le=10, description="Weight of R_align.")
    w_cov: float = Field(default=1.0, ge=0, le=10, description="Weight of R_cov.")
    w_spec: float = Field(default=1.0, ge=0, le=10, description="Weight of R_spec.")
    w_div: float = Field(default=1.0, ge=0, le=10, description="Weight of R_div.")
    w_struct: float = Field(default=1.0, ge=0, le=10, description="Weight of R_struct.")


class SignalSettings(BaseModel):
    """Which of a user's signals the policy's prompt shows and the rubric judge reads."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    max_prompt_signals: int = Field(
        default=32, ge=1, le=64,
        description="Distinct signals, most recent first, that the policy's prompt shows and "
                    "the rubric judge reads.")


class ServingSettings(BaseModel):
    """How many hits each query takes from the serving index (chosen in notebook 02).

    Kept apart from ``RewardSettings`` while notebooks 03-06 still serve with the former
    fixed 10 hits per query; they take this field when they are re-run on notebook 02's
    serving path. The default is the value notebooks 02 and 03b run with where their params
    files leave it out; notebooks 03, 04 and 05 take it from the teacher recipe
    (``TeacherRecipe``).
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    k_per_query: int = Field(
        default=20, ge=1, le=200,
        description="Hits each query takes from the serving index before fusion "
                    "(notebook 02 chooses it on validation users).")


class RewardsParams(NotebookParams, RewardSettings, SignalSettings, ServingSettings):
    """02_rewards: the five rewards, checked against reference strategies."""

    n_users: int = Field(ge=10, le=100_000, description="Test users scored per strategy.")
    n_val_users: int = Field(
        ge=10, le=100_000,
        description="Validation users on which the serving path is chosen.")


class BaselinesParams(NotebookParams, RewardSettings, ServingSettings):
    """03b_baselines: classic recommenders on the same split and protocol."""

    n_seeds: int = Field(default=3, ge=1, le=10, description="Training seeds per baseline.")
    epochs: int = Field(default=12, ge=1, le=500, description="Most training epochs (early-stopped).")
    patience: int = Field(default=3, ge=1, le=50, description="Epochs without validation gain before stopping.")
    hidden: int = Field(default=64, ge=8, le=1024, description="Hidden / embedding size of the neural baselines.")
    max_history: int = Field(default=50, ge=2, le=1000, description="Most recent events a sequence model reads.")
    learning_rate: float = Field(default=3e-3, gt=0, le=1, description="Adam learning rate.")
    batch_size: int = Field(default=64, ge=1, le=65536, description="Training batch size.")
    n_negatives: int = Field(
        default=256, ge=1, le=65536,
        description="Uniformly sampled negative articles per batch (besides in-batch ones).")
    val_days: int = Field(
        default=5, ge=1, le=20,
        description="Last history days held out as validation targets of VAL users.")
    text_embedder: Literal["minilm", "static"] = Field(
        default="minilm",
        description="Embedder of behaviour texts (content and NRHUB baselines).")
    knn: int = Field(default=10, ge=1, le=100,
                     description="Content neighbours per article (popularity, PinSage).")
    top_n: int = Field(default=100, ge=10, le=1000, description="Length of each ranking.")


RewardName = Literal["align", "cov", "spec", "div", "struct"]


def _check_ladder_sizes(field: str, names: list[str]) -> None:
    """``ValueError`` naming ``field`` and the ladder when a name is not a ladder size."""
    from newsstudy.policy.ladder import LADDER

    unknown = [n for n in names if n not in LADDER]
    if unknown:
        raise ValueError(f"{field}: {unknown} are not ladder sizes ({', '.join(LADDER)})")


class PolicySettings(BaseModel):
    """How a query-writing policy is built and trained (SFT warm start, then Dr.GRPO).

    Part of the teacher recipe (``TeacherRecipe``): the values come from the profile's
    ``params/<profile>/teacher.yaml``, so most fields have no default here. The four
    defaults left are the documented standard values (word-level tokenizer, ``lora_rank``
    0: every weight trained, the duplicate guard on, ``top_p`` 1: no nucleus truncation);
    every shipped teacher.yaml still names them.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    model: str = Field(min_length=1,
                       description="Ladder size name (xs..xxl) or a local Hugging Face model path.")
    tokenizer_kind: Literal["word", "bpe"] = Field(
        default="word", description="Tokenizer of the from-scratch models: word-level or BPE.")

    @field_validator("model")
    @classmethod
    def _model_exists(cls, value: str) -> str:
        from newsstudy.policy.ladder import check_model_name

        return check_model_name(value)

    vocab_size: int = Field(ge=256, le=65536,
                            description="Tokenizer vocabulary (from-scratch models).")
    demos_per_user: int = Field(
        ge=1, le=16,
        description="SFT demonstrations per training user: copy's list, then draws that mix "
                    "interest candidates with recent signals "
                    "(newsstudy.policy.prompts.surface_demonstrations).")
    prompt_candidates: int = Field(
        ge=0, le=16,
        description="Interest candidates the prompt offers beside the signals, computed from "
                    "them and the corpus (newsstudy.policy.interests); 0: signals only.")
    demo_pool: int = Field(ge=1, le=64,
                           description="Most recent signals the drawn demonstrations copy from.")
    max_prompt_chars: int = Field(ge=50, le=16000,
                                  description="Bound on the signal text in a prompt.")
    n_train_users: int = Field(ge=8, le=1_000_000,
                               description="Training users whose prompts SFT and GRPO use.")
    sft_epochs: int = Field(ge=0, le=100, description="SFT epochs on surface demonstrations.")
    sft_learning_rate: float = Field(gt=0, le=1, description="SFT learning rate.")
    imitation_curve_users: int = Field(
        default=100, ge=0, le=100_000,
        description="Validation users behind the SFT imitation curve (0: no curve).")
    imitation_curve_points: int = Field(default=6, ge=1, le=100,
                                        description="SFT steps at which the curve is measured.")
    sft_batch_size: int = Field(ge=1, le=4096, description="SFT batch size.")
    grpo_steps: int = Field(ge=0, le=100_000, description="Dr.GRPO optimisation steps.")
    grpo_learning_rate: float = Field(gt=0, le=1, description="Dr.GRPO learning rate.")
    users_per_step: int = Field(ge=1, le=4096, description="Users (prompts) per GRPO step.")
    num_generations: int = Field(ge=2, le=256, description="G: lists sampled per user.")
    beta: float = Field(ge=0, le=10, description="KL coefficient to the SFT policy.")
    teacher_reward: Literal["paper", "verifiable"] = Field(
        description="The reward of the teacher that feeds 04-06: the paper's five "
                    "(newsstudy.rewards) or the verifiable retrieval reward "
                    "(newsstudy.rewards.verifiable); 03 trains both.")
    verifiable_learning_rate: float = Field(
        gt=0, le=1, description="Dr.GRPO learning rate with the verifiable reward.")
    verifiable_beta: float = Field(
        ge=0, le=10, description="KL coefficient with the verifiable reward.")
    target_days: int = Field(
        ge=1, le=365,
        description="Last days of a training user's history whose clicks the verifiable "
                    "reward retrieves against; the prompt is built from the days before.")
    reward_depth: int = Field(
        ge=10, le=1000,
        description="Rank depth the verifiable reward grades (NDCG at this depth).")
    temperature: float = Field(gt=0, le=5,
                               description="Sampling temperature, in GRPO rollouts and serving.")
    top_p: float = Field(default=1.0, gt=0, le=1,
                         description="Nucleus sampling mass, in GRPO rollouts and serving.")
    duplicate_guard: bool = Field(
        default=True, description="Decode with the guard against repeated queries and pointers.")
    max_completion_length: int = Field(ge=8, le=2048,
                                       description="Most tokens per completion.")
    lora_rank: int = Field(
        default=0, ge=0, le=1024,
        description="LoRA rank of the SFT and Dr.GRPO updates (alpha = 2 x rank, every "
                    "linear layer); 0 trains every weight.")
    n_eval_users: int = Field(
        ge=5, le=1_000_000,
        description="Test users of the final numbers, shared by 03, 04 and 05 "
                    "(newsstudy.protocol.eval_users).")
    n_val_users: int = Field(
        ge=5, le=1_000_000,
        description="Validation users of the instrument checks (imitation, format, reward "
                    "validity, GRPO improvement), shared by 03, 04 and 05.")


class TeacherRecipe(RewardSettings, SignalSettings, ServingSettings, PolicySettings):
    """The teacher recipe of a profile: ``params/<profile>/teacher.yaml``.

    Model, tokenizer, prompt, SFT, Dr.GRPO, decoding, reward weights and serving: every
    setting that decides the RL teacher, written once per profile. Notebooks 03_grpo,
    04_scaling and 05_distillation all read it (``newsstudy.params.load_params`` lays the
    notebook's own params file over it), so 04 and 05 reuse 03's teacher checkpoint and
    the three notebooks cannot drift apart. Their schemas (``GRPOParams``,
    ``ScalingParams``, ``DistillParams``) inherit these fields, so a validated notebook
    params object carries the whole recipe (``P.model``, ``P.temperature``, ...) and its
    ``params_hash`` changes when the recipe does.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class GRPOParams(NotebookParams, RewardSettings, SignalSettings, ServingSettings, PolicySettings):
    """03_grpo: prompt-only (SFT) and RL teacher rows, and the reward ablation."""

    n_seeds: int = Field(ge=1, le=10, description="Training seeds of the RL teacher.")
    validity_samples: int = Field(
        ge=3, le=64, description="Lists sampled per validation user for the reward-validity check.")
    improvement_samples: int = Field(
        ge=1, le=64,
        description="Lists sampled per validation user when comparing the teacher's reward "
                    "with the prompt-only policy's (averaged per user).")
    imitation_sizes: list[str] = Field(
        description="Other ladder sizes trained with the same SFT recipe for the imitation-"
                    "against-size check (may be empty).")
    ablations: list[RewardName] = Field(
        description="Rewards to drop one at a time (each retrained, first seed only).")

    @model_validator(mode="after")
    def _imitation_sizes(self) -> GRPOParams:
        _check_ladder_sizes("imitation_sizes", self.imitation_sizes)
        return self


# The ladder's training recipe per size (newsstudy.policy.ladder holds the architectures):
# Adam-style learning rates shrink as the model grows (the usual width scaling); Dr.GRPO's
# rate sits an order of magnitude below SFT's, since it starts from the SFT policy and only
# re-weights it; larger sizes get fewer epochs (their compute per epoch grows with their
# parameters). Checked on "s" (default world, ~1,800 demonstrations, batch 32, cosine): 6e-3
# for 8 epochs brings the completion loss from 8.4 to 1.3, with tags, separators and eos
# learned. A profile's 04_scaling.yaml names only the sizes whose values it changes.
LADDER_SFT_EPOCHS = {"xs": 8, "s": 8, "m": 6, "l": 5, "xl": 4, "xxl": 4}
LADDER_SFT_LEARNING_RATES = {"xs": 8e-3, "s": 6e-3, "m": 4e-3, "l": 3e-3, "xl": 2e-3,
                             "xxl": 1.5e-3}
LADDER_GRPO_LEARNING_RATES = {"xs": 8e-4, "s": 6e-4, "m": 4e-4, "l": 3e-4, "xl": 2e-4,
                              "xxl": 1.5e-4}
SIZE_RECIPE_DEFAULTS = {"capacity_sft_epochs": LADDER_SFT_EPOCHS,
                        "capacity_sft_learning_rates": LADDER_SFT_LEARNING_RATES,
                        "capacity_grpo_learning_rates": LADDER_GRPO_LEARNING_RATES}
SIZE_RECIPE_FIELDS = tuple(SIZE_RECIPE_DEFAULTS)


class ScalingParams(NotebookParams, RewardSettings, SignalSettings, ServingSettings, PolicySettings):
    """04_scaling: quality against model size and against best-of-N sampling.

    Every size in ``sizes`` runs the full recipe (SFT warm start, then Dr.GRPO) with its
    own learning rates and SFT epochs (``capacity_sft_epochs``,
    ``capacity_sft_learning_rates``, ``capacity_grpo_learning_rates``) on
    ``capacity_train_users`` users and ``capacity_grpo_steps`` GRPO steps; the other policy
    settings, the profile's teacher recipe, are shared. The best-of-N study samples the RL
    teacher of the recipe as given (``model``; with 03's recipe, 03's checkpoint, reused
    from the cache).
    """

    sizes: list[str] = Field(min_length=2, description="Ladder sizes trained, smallest first.")
    capacity_train_users: int = Field(
        default=250, ge=8, le=1_000_000,
        description="Training users of every size in the capacity study.")
    capacity_grpo_steps: int = Field(
        default=20, ge=0, le=100_000, description="Dr.GRPO steps of every size in the capacity study.")
    capacity_sft_epochs: dict[str, int] = Field(
        default_factory=lambda: dict(LADDER_SFT_EPOCHS),
        description="SFT epochs of each ladder size in the capacity study (and of 05's "
                    "student); a profile names only the sizes it changes, chosen on validation "
                    "users against the imitation and format bars.")
    capacity_sft_learning_rates: dict[str, float] = Field(
        default_factory=lambda: dict(LADDER_SFT_LEARNING_RATES),
        description="Peak SFT learning rate of each ladder size in the capacity study; a "
                    "profile names only the sizes it changes.")
    capacity_grpo_learning_rates: dict[str, float] = Field(
        default_factory=lambda: dict(LADDER_GRPO_LEARNING_RATES),
        description="Peak Dr.GRPO learning rate of each ladder size in the capacity study; "
                    "a profile names only the sizes it changes.")
    n_best_of_n_users: int = Field(
        ge=5, le=1_000_000,
        description="Best-of-N and compute-frontier users: the first of the evaluation users.")
    best_of_n: list[int] = Field(
        default_factory=lambda: [1, 2, 4, 8, 16, 32], min_length=1,
        description="N values of best-of-N sampling from the teacher.")
    sizes_best_of_n: list[int] = Field(
        default_factory=lambda: [1, 2, 4, 8], min_length=1,
        description="N values sampled from every size (the compute chart).")
    sample_temperature: float = Field(default=1.0, gt=0, le=5,
                                      description="Sampling temperature of best-of-N.")
    n_draws: int = Field(default=16, ge=1, le=1000,
                         description="Random N-subsets per user when estimating best-of-N.")
    verifier_train_users: int = Field(
        default=400, ge=4, le=1_000_000,
        description="Training users whose sampled lists and realised retrieval train the "
                    "learned best-of-N verifier (newsstudy.scaling.verifier).")
    verifier_samples: int = Field(
        default=8, ge=2, le=64,
        description="Lists sampled per user to train and to check the learned verifier.")
    verifier_val_users: int = Field(
        default=200, ge=2, le=1_000_000,
        description="Validation users (the first of 03's) the learned verifier is checked on.")

    @field_validator(*SIZE_RECIPE_FIELDS, mode="before")
    @classmethod
    def _size_recipe_overrides(cls, given, info):
        """A profile's per-size values replace the schema's for the sizes it names; the
        other sizes keep theirs. A size given a value other than the schema's must be among
        ``sizes`` (a change to a size that is not trained is a mistake); values positive."""
        if not isinstance(given, dict):
            return given  # pydantic names the wrong type
        sizes, defaults = info.data.get("sizes") or [], SIZE_RECIPE_DEFAULTS[info.field_name]
        extra = [size for size, value in given.items()
                 if size not in sizes and defaults.get(size) != value]
        if extra:
            raise ValueError(f"{info.field_name}: {extra} are not among sizes {sizes}")
        if any(not (isinstance(v, (int, float)) and v > 0) for v in given.values()):
            raise ValueError(f"{info.field_name}: values must be positive, got {given}")
        return {**SIZE_RECIPE_DEFAULTS[info.field_name], **given}

    @model_validator(mode="after")
    def _scaling_lists(self) -> ScalingParams:
        _check_ladder_sizes("sizes", self.sizes)
        for name in ("best_of_n", "sizes_best_of_n"):
            values = getattr(self, name)
            if any(n < 1 for n in values) or values != sorted(set(values)):
                raise ValueError(f"{name} must be increasing positive integers, got {values}")
        return self


class DistillParams(NotebookParams, RewardSettings, SignalSettings, ServingSettings, PolicySettings):
    """05_distillation: 04's largest size distilled into the smallest ladder size, four ways.

    The teacher is the checkpoint notebook 04 publishes (``distillation-teacher``: its
    largest size). The student trains with the profile's teacher recipe at its own ladder
    size (``newsstudy.policy.ladder`` learning rates and epochs); distillation uses the
    prompts of ``distill_train_users`` of its training users.
    """

    student: str = Field(default="xs", description="Ladder size of the student.")
    n_seeds: int = Field(default=3, ge=1, le=10, description="Training seeds per student.")
    distill_train_users: int = Field(
        ge=4, le=1_000_000,
        description="Training users whose prompts supervised and on-policy distillation use "
                    "(a seeded sample of the recipe's training users).")
    teacher_samples: int = Field(default=1, ge=1, le=64,
                                 description="Lists the teacher samples per training user (supervised).")
    supervised_epochs: int = Field(default=2, ge=1, le=100,
                                   description="Epochs of SFT on the teacher's lists.")
    supervised_learning_rate: float = Field(default=2e-3, gt=0, le=1,
                                            description="Learning rate of supervised distillation.")
    distill_steps: int = Field(default=60, ge=1, le=100_000,
                               description="Optimisation steps of on-policy distillation.")
    distill_learning_rate: float = Field(default=2e-3, gt=0, le=1,
                                         description="Learning rate of on-policy distillation.")
    distill_batch_size: int = Field(default=16, ge=1, le=4096,
                                    description="Prompts (one sample each) per on-policy step.")
    grpo_after_steps: int = Field(default=20, ge=1, le=100_000,
                                  description="Dr.GRPO steps after on-policy distillation.")
    curve_every: int = Field(default=15, ge=1, le=100_000,
                             description="Steps between points of the training curves.")
    n_curve_users: int = Field(default=100, ge=0, le=100_000,
                               description="Validation users behind the Recall@10 curve (0: none).")
    n_serving_users: int = Field(default=256, ge=1, le=1_000_000,
                                 description="Users timed in the serving benchmark.")
    serving_batch_size: int = Field(default=32, ge=1, le=4096,
                                    description="Batch size of serving generation.")
    serving_repeats: int = Field(default=3, ge=1, le=50,
                                 description="Turns of the teacher-then-student serving "
                                 "measurement; each reports its median turn.")

    @model_validator(mode="after")
    def _student_size(self) -> DistillParams:
        _check_ladder_sizes("student", [self.student])
        return self


class ABParams(ReturnModel, ClickModel, FeedSettings, NotebookParams):
    """06_ab_simulation: the simulated online A/B test (documented in ``newsstudy.ab``).

    The feed's, the click model's and the return model's fields (and the check that
    ``p_outside`` does not exceed ``p_interest``) come from the simulator's own settings,
    :mod:`newsstudy.ab.settings`, which own their defaults, ranges and meanings.
    """

    n_users: int = Field(default=100_000, ge=200, le=2_000_000,
                         description="Users of the A/B world (01_data's world with this many users).")
    days: int = Field(default=7, ge=3, le=21, description="Days the test runs.")
    history_days: int = Field(
        default=14, ge=7, le=40,
        description="Days of observed behaviour before the test in the A/B world.")
    treatment_policy: str = Field(
        default="student", pattern=r"^[a-z][a-z0-9_-]*$",
        description="Published policy that writes the treatment's query lists "
                    "(artifacts/<profile>/published/<name>.json).")

    @field_validator("treatment_policy")
    @classmethod
    def _policy_is_published_by_a_notebook(cls, value: str) -> str:
        if value not in PUBLISHED_POLICIES:
            raise ValueError(f"no notebook publishes a policy {value!r}; the published "
                             f"policies are {', '.join(sorted(PUBLISHED_POLICIES))}")
        return value

    serving_embedder: Literal["static", "minilm"] = Field(
        default="static",
        description="Embedder of the treatment's queries and ANN index (static: fast enough "
                    "for 100,000 users' lists on a CPU; minilm: slower, more accurate).")
    index_kind: Literal["exact", "hnsw"] = Field(
        default="exact", description="faiss index of each day's pool.")
    k_per_query: int = Field(default=10, ge=1, le=100, description="ANN hits per query.")
    max_queries: int = Field(default=8, ge=1, le=32, description="Queries used per list.")
    max_new_tokens: int = Field(default=64, ge=8, le=2048,
                                description="Most tokens the policy writes per list.")
    generation_batch_size: int = Field(default=128, ge=1, le=4096,
                                       description="Prompts per generation batch.")
    alpha: float = Field(default=0.05, gt=0, lt=0.5, description="Significance level of the tests.")
    n_aa_tests: int = Field(default=1000, ge=200, le=100_000,
                            description="Replicated A/A tests (random re-splits).")
    n_bootstrap: int = Field(default=1000, ge=100, le=100_000,
                             description="Poisson-bootstrap resamples checking each lift.")
    power: float = Field(default=0.8, gt=0, lt=1, description="Power of the MDE curve.")
    power_replicates: int = Field(
        default=200, ge=20, le=10_000, description="Subsampled tests per point of the power check.")



class SensitivityParams(NotebookParams):
    """01b_sensitivity: every world knob set low and high, one at a time (the world itself
    comes from the profile's 01_data parameters)."""

    n_users: int = Field(ge=100, le=100_000, description="Users of each sweep world.")
    n_queries: int = Field(default=5, ge=1, le=16, description="Queries per list.")
    fusion: Literal["round_robin", "rrf"] = Field(
        description="How per-query hits fuse into one ranking (notebook 02's choice).")
    k_per_query: int = Field(
        ge=1, le=200, description="Hits per query before fusion (notebook 02's choice).")
    gru_epochs: int = Field(ge=1, le=50, description="Training epochs of the GRU4Rec yardstick.")
    knobs: list[str] = Field(
        min_length=1,
        description="Knobs to sweep (names in SENSITIVITY_SETTINGS; all of them "
                    "for the full table).")

    @model_validator(mode="after")
    def _known_knobs(self) -> SensitivityParams:
        unknown = [k for k in self.knobs if k not in SENSITIVITY_SETTINGS]
        if unknown:
            raise ValueError(f"unknown knobs {unknown} (known: {', '.join(SENSITIVITY_SETTINGS)})")
        return self


SCHEMAS: dict[str, type[NotebookParams]] = {
    "01_data": DataParams,
    "02_rewards": RewardsParams,
    "01b_sensitivity": SensitivityParams,
    "03_grpo": GRPOParams,
    "03b_baselines": BaselinesParams,
    "04_scaling": ScalingParams,
    "05_distillation": DistillParams,
    "06_ab_simulation": ABParams,
}
