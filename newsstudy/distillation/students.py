"""The body of :mod:`newsstudy.distillation` (its docstring says what it does)."""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from newsstudy import evaluation, parallel, paths
from newsstudy.distillation.methods import METHODS
from newsstudy.metrics import mean_with_ci
from newsstudy.policy import checkpoints, distill, generate
from newsstudy.rewards import RewardScorer
from newsstudy.teacher import PolicyPipeline, grpo
from newsstudy.teacher.imitation import well_formed


@dataclass
class DistillPipeline:
    """Teacher, student warm start and the distilled students for one world and params.

    ``settings``: validated ``DistillParams`` (the teacher's ``PolicySettings`` plus the
    distillation fields).
    """

    world: object
    settings: object
    scorer: RewardScorer
    serving: object
    log: object = print
    teacher_pipe: PolicyPipeline = field(init=False)
    student_pipe: PolicyPipeline = field(init=False)

    def __post_init__(self):
        s = self.settings
        self.teacher_pipe = PolicyPipeline(self.world, s, self.scorer, log=self.log)
        from newsstudy.scaling.capacity import regime_of, size_settings

        self.student_pipe = PolicyPipeline(
            self.world, size_settings(s, s.student, regime_of(s.profile)), self.scorer,
            log=self.log)
        self.student_pipe._tokenizer = self.teacher_pipe.tokenizer()
        self._published = None
        self._teacher_config = None

    @property
    def store(self) -> checkpoints.PolicyStore:
        """The profile's checkpoint store."""
        return self.teacher_pipe.store

    # ------------------------------------------------------------------ fixed points
    @property
    def published_teacher(self):
        """The :class:`~newsstudy.policy.published.PublishedPolicy` notebook 04 published."""
        if self._published is None:
            from newsstudy.policy.published import load_published

            self._published = load_published(self.settings.profile, "distillation-teacher")
        return self._published

    def teacher(self) -> Path:
        """The distillation teacher: 04's largest size (its published checkpoint)."""
        return Path(self.published_teacher.checkpoint)

    def teacher_config(self) -> dict:
        """The configuration the teacher checkpoint was trained with (read once)."""
        if self._teacher_config is None:
            from newsstudy.io import read_json

            self._teacher_config = read_json(self.teacher() / checkpoints.COMPLETE)["config"]
        return self._teacher_config

    def teacher_size(self) -> str:
        """The ladder size of the teacher checkpoint (from its stored configuration)."""
        return str(self.teacher_config()["model"])

    def same_training_users(self) -> bool:
        """Whether teacher and student trained on the same number of users (the regime)."""
        teacher_users = self.teacher_config()["n_train_users"]
        return int(teacher_users) == int(self.student_pipe.settings.n_train_users)

    def distill_users(self) -> np.ndarray:
        """The seeded sample of training users whose prompts distillation reads."""
        users = self.student_pipe.train_users()
        rng = np.random.default_rng(self.settings.seed + 2)
        return np.sort(rng.permutation(users)[: self.settings.distill_train_users])

    def warm_start(self) -> Path:
        """The student's SFT warm start (its prompt-only policy)."""
        return self.student_pipe.prompt_only()

    def curve_users(self) -> list[int]:
        """Validation users whose greedy lists trace the training curves."""
        users = self.world.split_users("val")
        rng = np.random.default_rng(self.settings.seed)
        return [int(u) for u in rng.permutation(users)[: self.settings.n_curve_users]]

    def _config(self, method: str, seed: int) -> dict:
        s = self.settings
        return {"student_sft": self.warm_start().name, "teacher": self.teacher().name,
                "method": method, "seed": seed, "steps": s.distill_steps,
                "lr": s.distill_learning_rate, "batch": s.distill_batch_size,
                "teacher_samples": s.teacher_samples, "sup_epochs": s.supervised_epochs,
                "distill_users": s.distill_train_users,
                "sup_lr": s.supervised_learning_rate, "grpo_after": s.grpo_after_steps,
                "curve_every": s.curve_every, "curve_users": s.n_curve_users if seed == s.seed
                else 0, **({"curve": "recall@10 with its 95% interval"}
                           if seed == s.seed and s.n_curve_users else {}),
                "max_completion_length": s.max_completion_length,
                "grpo": self.student_pipe.teacher_config(seed)["grpo"]
                if method == "on-policy + GRPO" else None}

    # ------------------------------------------------------------------ students
    def student(self, method: str, seed: int) -> Path:
        """The checkpoint of one method and seed (trained on first use, then cached)."""
        if method == "none":  # the student trained as the teacher was, without it
            return self.student_pipe.teacher(seed)
        trainers = {"supervised": self._supervised, "on-policy": self._on_policy,
                    "on-policy + GRPO": self._on_policy_grpo}
        if method not in trainers:
            raise ValueError(f"unknown distillation method {method!r}; methods are {METHODS}")
        kind = {"supervised": "distill-sup", "on-policy": "distill-opd",
                "on-policy + GRPO": "distill-opd-grpo"}[method]
        return self.store.cached(kind, self._config(method, seed),
                                 lambda: trainers[method](seed))

    def _eval_fn(self, seed: int, teacher_model):
        """Curve function for the first seed: R@10 on curve users and reverse KL."""
        if seed != self.settings.seed or self.settings.n_curve_users == 0:
            return None
        users = self.curve_users()
        user_prompts = self.student_pipe.prompts(users)
        order = list(user_prompts)
        texts = [user_prompts[u] for u in order]
        tok = self.student_pipe.tokenizer()
        max_len = self.settings.max_completion_length

        def evaluate(model):
            d = self.student_pipe.decoding  # the policy's own decoding, as served
            outputs = generate.sample_completions(model, tok, texts, temperature=d.temperature,
                                                  top_p=d.top_p, guard=d.duplicate_guard,
                                                  max_new_tokens=max_len, seed=seed,
                                                  progress=False)
            frame = evaluation.evaluate_completions(
                self.world, self.serving, {u: o[0] for u, o in zip(order, outputs, strict=True)},
                fusion=self.settings.fusion)
            kl = distill.sampled_reverse_kl(model, teacher_model, tok, texts,
                                            max_new_tokens=max_len, seed=seed)
            mean, low, high = mean_with_ci(frame["recall@10"].to_numpy(dtype=float))
            return {"recall@10": mean, "recall@10 low": low, "recall@10 high": high,
                    "curve users": len(frame), "sampled_reverse_kl": kl}

        return evaluate

    def _load_pair(self):
        student, tok, _ = checkpoints.PolicyStore.load(self.warm_start())
        teacher_model, _, _ = checkpoints.PolicyStore.load(self.teacher())
        teacher_model.eval()
        return student, teacher_model, tok

    def _train_prompts(self) -> list[str]:
        prompts = self.student_pipe.prompts(self.distill_users())
        return list(prompts.values())

    def _supervised(self, seed: int):
        s = self.settings
        student, teacher_model, tok = self._load_pair()
        prompts = self._train_prompts()
        self.log(f"supervised distillation, seed {seed}: {s.teacher_samples} teacher lists "
                 f"per user for {len(prompts)} users")
        with generate.torch_threads(1):
            d = self.student_pipe.decoding  # the teacher's lists as served, raw tokens kept
            samples = generate.sample_completions(
                teacher_model, tok, prompts, n_samples=s.teacher_samples,
                temperature=d.temperature, top_p=d.top_p, guard=d.duplicate_guard,
                expand=False, max_new_tokens=s.max_completion_length, seed=seed, batch_size=128)
            model, history = distill.supervised_distill(
                student, tok, prompts, samples, lr=s.supervised_learning_rate,
                epochs=s.supervised_epochs, batch_size=s.sft_batch_size, seed=seed,
                eval_fn=self._eval_fn(seed, teacher_model), eval_every=s.curve_every,
                progress=True)
        return model, tok, {"log_history": history}

    def _on_policy(self, seed: int):
        s = self.settings
        student, teacher_model, tok = self._load_pair()
        self.log(f"on-policy distillation, seed {seed}: {s.distill_steps} steps")
        with generate.torch_threads(1):
            model, history = distill.on_policy_distill(
                student, teacher_model, tok, self._train_prompts(), steps=s.distill_steps,
                lr=s.distill_learning_rate, batch_size=s.distill_batch_size,
                max_completion_length=s.max_completion_length, seed=seed,
                eval_fn=self._eval_fn(seed, teacher_model), eval_every=s.curve_every)
        return model, tok, {"log_history": history}

    def _on_policy_grpo(self, seed: int):
        s = self.settings
        model, tok, _ = checkpoints.PolicyStore.load(self.student("on-policy", seed))
        reward = self.student_pipe.settings.teacher_reward  # the recipe's reward
        settings = dataclasses.replace(self.student_pipe.grpo_settings(seed, reward),
                                       steps=s.grpo_after_steps)
        scorer = self.student_pipe.reward_scorer(reward)
        self.log(f"Dr.GRPO after on-policy distillation, seed {seed}: {s.grpo_after_steps} "
                 f"steps, {reward} reward")
        with generate.torch_threads(1), tempfile.TemporaryDirectory() as tmp:
            model, history = grpo.train_grpo(
                model, tok, scorer, self.student_pipe.grpo_prompts(reward, scorer), settings,
                scorer.weights, output_dir=tmp)
        return model, tok, {"log_history": history}


def train_student(P, method: str, seed: int, eval_users: list[int],
                  kl_users: list[int]) -> dict:
    """Train (or load) one student and measure it: plain data out, for a worker process.

    Returns the checkpoint, the per-user metrics of its lists as served on ``eval_users``
    (the shared protocol), their well-formed share, and the token-mean reverse
    KL(student || teacher) on the student's own samples for ``kl_users``' prompts.
    ``P``: 05's validated settings.
    """
    from newsstudy import protocol
    from newsstudy.world import data

    world = data.load_world(P.profile)
    scorer = RewardScorer.from_settings(world, P)
    serving = protocol.serving(world, P)
    pipe = DistillPipeline(world, P, scorer, serving, log=lambda *a: None)
    checkpoint = pipe.warm_start() if method == "student warm start" else pipe.student(method, seed)
    frame, lists = evaluation.evaluate_policy(
        world, serving, pipe.student_pipe.policy(checkpoint, seed=seed), eval_users,
        fusion=P.fusion)
    model, tok, _ = checkpoints.PolicyStore.load(checkpoint)
    teacher_model, _, _ = checkpoints.PolicyStore.load(pipe.teacher())
    kl_prompts = list(pipe.student_pipe.prompts(kl_users).values())
    kl = distill.sampled_reverse_kl(model, teacher_model, tok, kl_prompts,
                                    max_new_tokens=P.max_completion_length, seed=seed)
    return {"method": method, "seed": seed, "checkpoint": str(checkpoint),
            "test": frame.rename_axis("user").reset_index().to_dict(orient="records"),
            "well_formed": well_formed(lists), "reverse_kl": kl}


def teacher_per_user(profile: str, teacher_size: str, eval_users, seed: int):
    """The teacher's per-user metrics as 04 evaluated them (its one evaluation), tagged
    ``method="teacher"``; an error if 04 scored other users than ``eval_users``."""
    capacity = pd.read_csv(paths.tables_dir(profile) / "04_capacity_per_user.csv")
    rows = capacity[capacity["size"] == teacher_size].drop(columns=["size"])
    if set(rows["user"]) - set(eval_users):
        raise ValueError("04_capacity_per_user was evaluated on other users than this notebook's "
                         "evaluation users: re-run 04_scaling with the current teacher.yaml")
    return rows.assign(method="teacher", seed=seed)


def train_students(P, seeds, eval_users, kl_users) -> list[dict]:
    """Every (method, seed) student, trained (or loaded) and measured in worker processes
    (:func:`train_student`, :func:`newsstudy.parallel.run_tasks`): on-policy, supervised,
    none and the warm start, then on-policy + GRPO, in that order. The longest chains
    go first: the on-policy students, and a seed's on-policy + GRPO student as soon as
    its on-policy student is trained, on the next free worker ahead of the shorter
    supervised, none and warm-start tasks, which fill the gaps."""
    tasks = {(method, s): parallel.Task(train_student, (P, method, s, eval_users, kl_users))
             for method in ("on-policy", "supervised", "none") for s in seeds}
    tasks["student warm start", seeds[0]] = parallel.Task(train_student, (
        P, "student warm start", seeds[0], eval_users, kl_users))
    for s in seeds:
        tasks["on-policy + GRPO", s] = parallel.Task(
            train_student, (P, "on-policy + GRPO", s, eval_users, kl_users),
            needs=(("on-policy", s),))
    chains_first = sorted(tasks, key=lambda name: not name[0].startswith("on-policy"))
    done = parallel.run_tasks({name: tasks[name] for name in chains_first})
    return [done[name] for name in tasks]


def serving_speeds(teacher_checkpoint: Path, student_checkpoint: Path, prompts: list[str],
                   batch_size: int, max_new_tokens: int, repeats: int = 3) -> dict[str, dict]:
    """Teacher's and student's serving speed on the same prompts, batch size and one thread,
    measured ``repeats`` times, teacher and student taking turns (so a slow spell of a
    shared machine falls on both); each role's record is its median run (by users/s) with
    every run's users/s beside it, and ``speedups`` holds the student-over-teacher ratio of
    each turn."""
    teacher_model, tok, _ = checkpoints.PolicyStore.load(teacher_checkpoint)
    student_model, _, _ = checkpoints.PolicyStore.load(student_checkpoint)
    runs: dict[str, list[dict]] = {"teacher": [], "student": []}
    with generate.torch_threads(1):
        for _ in range(max(1, repeats)):
            for role, model in (("teacher", teacher_model), ("student", student_model)):
                runs[role].append(distill.serving_speed(model, tok, prompts, batch_size,
                                                        max_new_tokens))
    out: dict[str, dict] = {}
    for role, measured in runs.items():
        ordered = sorted(measured, key=lambda run: run["users_per_second"])
        out[role] = {**ordered[len(ordered) // 2], "repeats": len(measured),
                     "users_per_second_runs": [run["users_per_second"] for run in measured]}
    out["speedups"] = [s["users_per_second"] / t["users_per_second"]
                       for t, s in zip(runs["teacher"], runs["student"], strict=True)]
    return out


def checkpoints_by_method(measured: list[dict]) -> dict[str, dict[int, Path]]:
    """Method -> seed -> checkpoint of every trained student (``train_students``' records)."""
    students: dict[str, dict[int, Path]] = {}
    for record in measured:
        students.setdefault(record["method"], {})[record["seed"]] = Path(record["checkpoint"])
    return students

