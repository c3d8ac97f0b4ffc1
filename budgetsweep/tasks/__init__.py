"""Built-in tasks (no download) and the Task protocol."""
from budgetsweep.tasks.base import Task, TaskData, objective_direction
from budgetsweep.tasks.digits import Digits
from budgetsweep.tasks.subset import subset_indices
from budgetsweep.tasks.teacher_student import TeacherStudent

__all__ = ["Task", "TaskData", "objective_direction", "Digits", "TeacherStudent", "subset_indices"]
