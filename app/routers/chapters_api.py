"""JSON API for the course content: chapter list, quizzes without answers, and grading."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.deps import ChapterDep, CourseDep, SessionsDep
from app.identity import CurrentVisitor, current_visitor
from app.progress import course_progress, progress_report, record_answer
from app.quiz import grade, options_for

router = APIRouter(prefix="/api", tags=["chapters"])


class AnswerIn(BaseModel):
    option: str


class AnswerOut(BaseModel):
    correct: bool
    correct_option: str
    explanation: str


@router.get("/chapters")
def read_chapters(course: CourseDep) -> list[dict]:
    """Every chapter in order, with its simulations, quiz size and number of exercises."""
    return [
        {
            "number": c.number,
            "slug": c.slug,
            "title": c.title,
            "url": c.url,
            "promise": c.meta.promise,
            "simulations": [s.name for s in c.meta.simulations],
            "quiz_count": len(c.meta.quiz),
            "exercise_count": len(c.meta.exercises),
        }
        for c in course.chapters
    ]


@router.get("/chapters/{slug}/quiz")
def read_quiz(chapter: ChapterDep, visitor: CurrentVisitor) -> dict:
    """The chapter's questions, options in this learner's order; answers stay on the server until answered."""
    return {
        "questions": [
            {
                "id": q.id,
                "prompt": q.prompt,
                "options": [{"id": o.id, "text": o.text} for o in options_for(visitor.learner_id, q)],
            }
            for q in chapter.meta.quiz
        ]
    }


# One trip through the thread pool, not three: the visitor is looked up here rather than as a (sync)
# dependency, and the answer goes out as a finished JSONResponse, which FastAPI does not validate again
# in the pool (the schema still comes from response_model).
@router.post("/chapters/{slug}/quiz/{question_id}", response_model=AnswerOut)
def create_answer(
    request: Request, chapter: ChapterDep, question_id: str, answer: AnswerIn, sessions: SessionsDep
) -> JSONResponse:
    """Grade an answer, record it for this learner and explain the chosen option."""
    graded = grade(chapter, question_id, answer.option)
    visitor = current_visitor(request)
    record_answer(sessions, visitor.learner_id, chapter.slug, question_id, graded.chosen.id, graded.correct)
    return JSONResponse(AnswerOut(
        correct=graded.correct,
        correct_option=graded.question.correct_option.id,
        explanation=graded.chosen.explanation,
    ).model_dump())


@router.get("/me/progress")
def read_my_progress(course: CourseDep, sessions: SessionsDep, visitor: CurrentVisitor) -> dict:
    """Progress per chapter: this browser's, or when logged in, that of every browser of the account."""
    return progress_report(course, course_progress(sessions, visitor.learner_ids))
