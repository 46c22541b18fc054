import { IsInt, Max, Min } from "class-validator";
import { INPUT_BOUNDS, type BoundedField, type NumberBounds } from "../../domain/generations/input-bounds";

/** class-validator: the field's range from INPUT_BOUNDS (Min, Max, and IsInt for whole numbers). */
export function InBounds(field: BoundedField): PropertyDecorator {
  const b: NumberBounds = INPUT_BOUNDS[field];
  return (target, key) => {
    Min(b.min)(target, key as string);
    Max(b.max)(target, key as string);
    if (b.int) IsInt()(target, key as string);
  };
}
